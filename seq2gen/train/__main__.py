"""`python -m seq2gen.train --config X.yaml [--set key=value ...]` (also under `deepspeed -m` / `torchrun -m`)."""
from __future__ import annotations

import logging
import os
import sys
from typing import List, Optional

import typer

from seq2gen.utils.cli import run_command


def main(argv=None) -> int:
    """The exit status of the run (2 on bad input or usage); ``argv`` defaults to ``sys.argv[1:]``."""
    return run_command(train_command, argv, prog="python -m seq2gen.train", help=__doc__)


def train_command(
    config: str = typer.Option(..., "--config", help="train YAML (configs/train/*.yaml)"),
    overrides: Optional[List[str]] = typer.Option(None, "--set", metavar="KEY=VALUE", help="override a config key "
                                                  "(repeatable), e.g. --set max_steps=100 --set rates.expr=2"),
    resume: bool = typer.Option(False, "--resume", help="continue from the latest complete checkpoint"),
    local_rank: Optional[int] = typer.Option(None, "--local_rank", "--local-rank", hidden=True),
) -> None:
    """Train; ``--local_rank`` is accepted because ``deepspeed --module`` passes it (ranks come from the
    environment)."""
    level = logging.INFO if os.environ.get("RANK", "0") == "0" else logging.WARNING   # rank 0 talks
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    from seq2gen.train.config import load_train_config
    from seq2gen.train.loop import train
    overrides = list(overrides or []) + (["resume=true"] if resume else [])
    result = train(with_data_exports(load_train_config(config, overrides)))
    if result["export_dir"] is not None:
        logging.getLogger("seq2gen.train").info("exported %s", result["export_dir"])


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
