#!/usr/bin/env python
"""Run the transfer-evaluation protocol and write its report (docs/transfer.md): ``seq2gen evaluate transfer``.

    python scripts/transfer.py --config configs/transfer/cpu.yaml --out runs/transfer_cpu
    python scripts/transfer.py --config configs/transfer/cpu.yaml --out runs/transfer_cpu --report-only
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without installing

if __name__ == "__main__":
    from seq2gen.cli import main
    main(["evaluate", "transfer", *sys.argv[1:]])
