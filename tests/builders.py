"""Shared builders of test fixtures (not tests): the tiny untrained inference export, and the toy tokenizer and
datasets the training tests run DeepSpeed on. Test modules import these instead of importing each other."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

TASKS = ("promoter", "tf_binding", "chromatin", "annotate", "expression", "variant_effect", "span_corruption",
         "tf_tissues")
_CACHE: dict = {}


def build_fixture(world_dir, tokenizer, root: Path) -> dict:
    """Datasets (≤ 40 rows per split) + an untrained tiny model saved in the training-export layout, built once per
    session (test_infer.py, test_serve.py, test_bad_inputs.py, test_fault_tolerance.py)."""
    key = str(world_dir)
    if key in _CACHE:
        return _CACHE[key]
    from seq2gen.data import build_datasets
    from seq2gen.model import build_model
    from seq2gen.tasks import TaskRegistry
    reg = TaskRegistry.from_dir(vocab=tokenizer.vocab)
    data_dir = root / "data"
    data = build_datasets(world_dir, reg, tokenizer, data_dir, max_per_task=40, progress=False)
    export = root / "export"                       # what seq2gen.train writes to OUT/model/
    model = build_model("tiny", len(tokenizer), tokenizer.pad_id, tokenizer.eos_id)
    model.save_pretrained(export)
    tokenizer.save_pretrained(export)
    for f in ("quantizers.json", "tasks.json"):
        shutil.copy(data_dir / f, export / f)
    _CACHE[key] = {"data": data, "data_dir": data_dir, "export": export, "world": Path(world_dir)}
    return _CACHE[key]


TOKENS = ["<pad>", "</s>", "<unk>", "A", "C", "G", "T", "<task:copy>", "<task:const>", "<task:span>",
          "<extra_id_0>"] + [f"<val:{i:03d}>" for i in range(8)]
ID = {t: i for i, t in enumerate(TOKENS)}
COMP = {ID["A"]: ID["T"], ID["C"]: ID["G"], ID["G"]: ID["C"], ID["T"]: ID["A"]}


def toy_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    tk = Tokenizer(models.WordLevel(ID, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def _rows(task, n, seed):
    rng = np.random.default_rng(seed)
    out = {"input_ids": [], "labels": []}
    for _ in range(n):
        x = rng.integers(ID["A"], ID["T"] + 1, size=8).tolist()
        if task == "copy":        # complement of the first two bases
            inp, lab = [ID["<task:copy>"]] + x, [COMP[x[0]], COMP[x[1]], ID["</s>"]]
        elif task == "const":     # always the same value token
            inp, lab = [ID["<task:const>"]] + x, [ID["<val:005>"], ID["</s>"]]
        else:                     # span corruption: mask bases 2..4
            inp = [ID["<task:span>"]] + x[:2] + [ID["<extra_id_0>"]] + x[5:]
            lab = [ID["<extra_id_0>"]] + x[2:5] + [ID["</s>"]]
        out["input_ids"].append(inp)
        out["labels"].append(lab)
    return out


def toy_datasets(_path=None, tasks=("copy", "const")):
    """dict task → DatasetDict(train/validation); also usable as a `data_loader` ("builders:toy_datasets")."""
    import datasets as hfd
    return {t: hfd.DatasetDict(train=hfd.Dataset.from_dict(_rows(t, 160, i)),
                               validation=hfd.Dataset.from_dict(_rows(t, 24, 100 + i)))
            for i, t in enumerate(tasks)}


def cfg_for(out_dir, **over):
    base = {"out_dir": str(out_dir), "progress": False, "log_every": 1, "eval_every": 0, "save_every": 0}
    base.update(over)
    from seq2gen.train import load_train_config
    return load_train_config(REPO / "configs" / "train" / "tiny_test.yaml", base)
