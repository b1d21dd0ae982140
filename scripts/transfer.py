#!/usr/bin/env python
"""Run the transfer-evaluation protocol and write its report (docs/transfer.md).

    python scripts/transfer.py --config configs/transfer/cpu.yaml --out runs/transfer_cpu
    python scripts/transfer.py --config configs/transfer/cpu.yaml --out runs/transfer_cpu --report-only
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a checkout without installing


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="configs/transfer/*.yaml or a preset name (tiny, cpu, gpu)")
    p.add_argument("--out", help="output folder (default: the config's out_dir)")
    p.add_argument("--no-resume", action="store_true", help="recompute cells that already have results")
    p.add_argument("--report-only", action="store_true", help="rebuild report.md and plots from results.json")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(name)s: %(message)s")
    from seq2gen.evaluate.report import headline, write_report
    from seq2gen.evaluate.transfer import load_transfer_config, run_transfer
    if args.report_only:
        out = Path(args.out or load_transfer_config(args.config).out_dir)
        results = json.loads((out / "results.json").read_text())
        write_report(results, out)
    else:
        results = run_transfer(args.config, out_dir=args.out, resume=not args.no_resume, progress=not args.quiet)
    print(headline(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
