#!/usr/bin/env python
"""Run the GUE real-data transfer study and write its report (docs/gue.md, "Study").

    python scripts/gue_study.py --config configs/transfer/gue_cpu.yaml --out runs/gue_cpu      # resumable
    python scripts/gue_study.py --config gue_cpu --out runs/gue_cpu --report-only
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without installing

if __name__ == "__main__":
    import typer

    from seq2gen.evaluate.gue_study import gue_study_cmd
    typer.run(gue_study_cmd)
