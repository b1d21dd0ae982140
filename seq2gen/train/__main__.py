"""`python -m seq2gen.train --config X.yaml [--set key=value ...]` (also under `deepspeed -m` / `torchrun -m`)."""
from __future__ import annotations

import argparse
import logging
import os
import sys

from seq2gen.errors import InputError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seq2gen.train", description=__doc__)
    parser.add_argument("--config", required=True, help="train YAML (configs/train/*.yaml)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (repeatable), e.g. --set max_steps=100 --set rates.expr=2")
    parser.add_argument("--resume", action="store_true", help="continue from the latest complete checkpoint")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    level = logging.INFO if os.environ.get("RANK", "0") == "0" else logging.WARNING   # rank 0 talks
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from seq2gen.train.config import load_train_config
    from seq2gen.train.loop import train
    try:
        overrides = args.overrides + (["resume=true"] if args.resume else [])
        result = train(with_data_exports(load_train_config(args.config, overrides)))
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if result["export_dir"] is not None:
        logging.getLogger("seq2gen.train").info("exported %s", result["export_dir"])
    return 0


def with_data_exports(cfg):
    """Training on a data folder exports its ``quantizers.json`` and ``tasks.json`` with the model (logged), so
    ``seq2gen evaluate`` / ``Seq2Gen.from_pretrained`` can load it without the user listing them in export_files."""
    from pathlib import Path

    from seq2gen.data.build import model_files
    if cfg.data is None or cfg.data_loader != "seq2gen.data:load_datasets":
        return cfg
    have = {Path(f).name for f in cfg.export_files}
    add = [str(p) for p in model_files(cfg.data) if p.name not in have]
    if add:
        logging.getLogger("seq2gen.train").info("exporting %s with the model (from the data folder)",
                                                ", ".join(add))
        cfg.export_files = [*cfg.export_files, *add]
    return cfg


if __name__ == "__main__":
    sys.exit(main())
