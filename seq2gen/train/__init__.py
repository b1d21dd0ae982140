"""seq2gen.train: DeepSpeed training on a task mixture, resumable checkpoints, HF export.

`train(config, datasets=None, tokenizer=None, eval_fn=None)`; `load_train_config(path, overrides)`.
torch/deepspeed are imported when `train` runs, so importing this package stays cheap.
"""
from seq2gen.train.config import TrainConfig, load_train_config, resolve_deepspeed_config
from seq2gen.train.sampler import MixtureSampler


def train(config, datasets=None, tokenizer=None, eval_fn=None) -> dict:
    from seq2gen.train.loop import train as _train
    return _train(config, datasets=datasets, tokenizer=tokenizer, eval_fn=eval_fn)


train.__doc__ = "See seq2gen.train.loop.train."
__all__ = ["MixtureSampler", "TrainConfig", "load_train_config", "resolve_deepspeed_config", "train"]
