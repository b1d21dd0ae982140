#!/usr/bin/env python
"""Run the GUE real-data transfer study and write its report (docs/gue.md, "Study"): ``seq2gen evaluate gue``.

    python scripts/gue_study.py --config configs/transfer/gue_cpu.yaml --out runs/gue_cpu      # resumable
    python scripts/gue_study.py --config gue_cpu --out runs/gue_cpu --report-only
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without installing

if __name__ == "__main__":
    from seq2gen.cli import main
    main(["evaluate", "gue", *sys.argv[1:]])
