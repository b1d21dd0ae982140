"""Model presets (configs/model/*.yaml) → HF T5 / LongT5 sized to the tokenizer.

A preset is YAML (or a dict) of the form::

    arch: t5            # or longt5
    stem: none          # none | kmer | conv (docs/model.md)
    seed: 0             # weight-init seed
    config: {d_model: 64, num_layers: 2, ...}   # keys of transformers.T5Config / LongT5Config (+ stem_* for conv)

``stem: kmer`` is a tokenizer choice (k-mer tokens, one embedding each; the model is a plain T5) that is checked
against the tokenizer; ``stem: conv`` builds ``seq2gen.model.stem``'s T5/LongT5 with a convolutional nucleotide stem.

`build_model` fills ``vocab_size`` and the special-token ids from the caller (or a tokenizer), initialises the
weights under a private torch RNG (the global RNG is left untouched) and returns the model in fp32.
"""
from __future__ import annotations

import copy
import difflib
import os
from pathlib import Path
from typing import Any

import yaml

from seq2gen.errors import InputError

STEMS = ("none", "kmer", "conv")
ARCHS = ("t5", "longt5")
PRESET_KEYS = ("arch", "stem", "seed", "config")
# ids the caller sets; a preset that sets them would silently disagree with the tokenizer.
_OWNED_KEYS = ("vocab_size", "pad_token_id", "eos_token_id", "decoder_start_token_id", "stem_nucleotide_ids",
               "stem_condition_ids")


def preset_dirs() -> list[Path]:
    """Where preset names are looked up: the shipped configs/model/, then ./configs/model/."""
    from seq2gen.resources import config_dir
    return [config_dir("model"), Path.cwd() / "configs" / "model"]


def list_presets() -> list[str]:
    names = set()
    for d in preset_dirs():
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.yaml"))
    return sorted(names)


def load_preset(preset: str | os.PathLike | dict) -> dict:
    """Read a preset given as a name (``tiny``), a YAML path, or a dict; validate its top-level keys."""
    if isinstance(preset, dict):
        data, where = copy.deepcopy(preset), None
    else:
        path = Path(preset)
        if not path.suffix and not path.exists():
            found = [d / f"{preset}.yaml" for d in preset_dirs() if (d / f"{preset}.yaml").is_file()]
            if not found:
                names = list_presets()
                close = difflib.get_close_matches(str(preset), names, n=1)
                raise InputError(f"unknown model preset {str(preset)!r}",
                                 hint=(f"did you mean {close[0]!r}? " if close else "") + f"presets: {names}")
            path = found[0]
        if not path.is_file():
            raise InputError("model preset file not found", path=path, hint="give a preset name or a YAML path")
        with open(path) as f:
            data = yaml.safe_load(f) or {}
        where = path
    if not isinstance(data, dict):
        raise InputError("a model preset must be a mapping with keys arch, seed, config", path=where)
    unknown = sorted(set(data) - set(PRESET_KEYS))
    if unknown:
        raise InputError(f"unknown preset key(s) {unknown}", path=where, hint=f"allowed: {list(PRESET_KEYS)}")
    data.setdefault("arch", "t5")
    data.setdefault("stem", "none")
    data.setdefault("seed", 0)
    data.setdefault("config", {})
    if data["arch"] not in ARCHS:
        raise InputError(f"arch must be one of {list(ARCHS)}, got {data['arch']!r}", path=where)
    if data["stem"] not in STEMS:
        raise InputError(f"stem must be one of {list(STEMS)}, got {data['stem']!r}", path=where)
    return data


def _classes(arch: str, stem: str = "none", chunked: bool = False) -> tuple[type, type]:
    """``(config class, model class)`` of a preset: HF T5/LongT5, the conv-stem models or the chunked-encoder T5."""
    if chunked:
        from seq2gen.model.chunked import ChunkedT5Config, ChunkedT5ForConditionalGeneration
        return ChunkedT5Config, ChunkedT5ForConditionalGeneration
    if stem == "conv":
        from seq2gen.model.stem import (StemLongT5Config, StemLongT5ForConditionalGeneration, StemT5Config,
                                        StemT5ForConditionalGeneration)
        return {"t5": (StemT5Config, StemT5ForConditionalGeneration),
                "longt5": (StemLongT5Config, StemLongT5ForConditionalGeneration)}[arch]
    from transformers import LongT5Config, LongT5ForConditionalGeneration, T5Config, T5ForConditionalGeneration
    return {"t5": (T5Config, T5ForConditionalGeneration),
            "longt5": (LongT5Config, LongT5ForConditionalGeneration)}[arch]


def _check_config_keys(arch: str, cfg: dict, where, stem: str = "none") -> bool:
    """Check the preset's config keys; returns whether it asks for the chunked encoder (``encoder_chunk``)."""
    chunked = "encoder_chunk" in cfg
    if chunked and (arch != "t5" or stem != "none"):
        raise InputError("encoder_chunk is an option of plain T5 presets (arch: t5, stem: none)", path=where,
                         hint="LongT5 (arch: longt5) has its own local + global attention")
    if chunked and not (isinstance(cfg["encoder_chunk"], int) and cfg["encoder_chunk"] >= 1):
        raise InputError(f"encoder_chunk must be a positive integer (tokens), got {cfg['encoder_chunk']!r}",
                         path=where)
    cls = _classes(arch, stem, chunked)[0]
    allowed = set(cls().to_dict()) | {"tie_word_embeddings", "decoder_start_token_id", "num_decoder_layers"}
    for key in cfg:
        if key in _OWNED_KEYS:
            raise InputError(f"model config key {key!r} is set from the tokenizer, not the preset", path=where)
        if key.startswith("stem_") and stem != "conv":
            raise InputError(f"model config key {key!r} needs `stem: conv` (this preset has stem: {stem})",
                             path=where)
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            raise InputError(f"unknown {cls.__name__} key {key!r}", path=where,
                             hint=f"did you mean {close[0]!r}?" if close else "see the transformers docs")
    return chunked


def build_model(preset: str | os.PathLike | dict,
                vocab_size: int | None = None,
                pad_token_id: int | None = None,
                eos_token_id: int | None = None,
                decoder_start_token_id: int | None = None,
                *,
                tokenizer: Any = None,
                seed: int | None = None,
                overrides: dict | None = None):
    """Build a freshly initialised T5/LongT5 for a tokenizer.

    Ids not given are taken from ``tokenizer`` (``len(tokenizer)``, ``pad_token_id``, ``eos_token_id``);
    ``decoder_start_token_id`` defaults to the pad id (T5 convention). ``seed`` overrides the preset's seed,
    ``overrides`` updates its ``config`` mapping. Returns the model in fp32, train mode.
    """
    import torch

    p = load_preset(preset)
    where = None if isinstance(preset, dict) else preset
    cfg = dict(p["config"])
    cfg.update(overrides or {})
    chunked = _check_config_keys(p["arch"], cfg, where, p["stem"])
    cfg.update(_stem_settings(p["arch"], p["stem"], cfg, tokenizer, where))
    if tokenizer is not None:
        vocab_size = len(tokenizer) if vocab_size is None else vocab_size
        pad_token_id = tokenizer.pad_token_id if pad_token_id is None else pad_token_id
        eos_token_id = tokenizer.eos_token_id if eos_token_id is None else eos_token_id
    if vocab_size is None or pad_token_id is None or eos_token_id is None:
        raise InputError("build_model needs vocab_size, pad_token_id and eos_token_id (or a tokenizer with "
                         "pad and eos tokens)")
    if decoder_start_token_id is None:
        decoder_start_token_id = pad_token_id
    for name, tid in (("pad_token_id", pad_token_id), ("eos_token_id", eos_token_id),
                      ("decoder_start_token_id", decoder_start_token_id)):
        if not 0 <= int(tid) < int(vocab_size):
            raise InputError(f"{name}={tid} outside the vocabulary (size {vocab_size})")
    config_class, model_class = _classes(p["arch"], p["stem"], chunked)
    config = config_class(vocab_size=int(vocab_size), pad_token_id=int(pad_token_id), eos_token_id=int(eos_token_id),
                          decoder_start_token_id=int(decoder_start_token_id), **cfg)
    init_seed = p["seed"] if seed is None else seed
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(init_seed))
        model = model_class(config)
    gc = model.generation_config
    gc.decoder_start_token_id, gc.pad_token_id, gc.eos_token_id = (int(decoder_start_token_id), int(pad_token_id),
                                                                   int(eos_token_id))
    return model


def _stem_settings(arch: str, stem: str, cfg: dict, tokenizer, where) -> dict:
    """Check the tokenizer fits the stem; for ``conv`` return the config entries the stem needs from it."""
    if stem == "none":
        return {}
    from seq2gen.model.stem import STEM_KEYS, check_stem_params, condition_ids, is_kmer_tokenizer, nucleotide_ids
    if stem == "kmer":
        if tokenizer is not None and not is_kmer_tokenizer(tokenizer):
            raise InputError("stem: kmer is a tokenizer choice, but this tokenizer has one token per base",
                             path=where, hint="build the tokenizer with mode='kmer' (seq2gen vocab build --mode kmer)")
        return {}
    if tokenizer is None:
        raise InputError("stem: conv needs the tokenizer (it reads the ids of A C G T N)", path=where,
                         hint="build_model(preset, tokenizer=tok)")
    defaults = _classes(arch, "conv")[0]()
    check_stem_params(*(cfg.get(k, getattr(defaults, k)) for k in STEM_KEYS))
    return {"stem_nucleotide_ids": nucleotide_ids(tokenizer), "stem_condition_ids": condition_ids(tokenizer)}


def count_parameters(model) -> int:
    """Number of distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in model.parameters())


def load_weights_resized(model, path, tokenizer=None) -> dict:
    """Load a trained export's weights into ``model`` (same preset), growing the vocabulary if ``model`` has more
    tokens: rows of the old ids are copied exactly, rows of the added ids keep ``model``'s fresh (seeded) init.

    With ``tokenizer`` (the new one), the export's saved tokenizer must map every token to the same id, or the
    copy would silently give old embeddings new meanings (``seq2gen vocab add`` appends, so it does). Returns
    ``{"old_vocab": n_old, "new_vocab": n_new}``.
    """
    import torch
    from transformers import AutoConfig, AutoModelForSeq2SeqLM
    path = Path(path)
    if not (path / "config.json").is_file():
        raise InputError("init_from is not a model export (no config.json)", path=path,
                         hint="give the model/ folder a training run exported")
    n_old, n_new = int(AutoConfig.from_pretrained(str(path)).vocab_size), int(model.config.vocab_size)
    if n_old > n_new:
        raise InputError(f"init_from has a larger vocabulary ({n_old}) than this model ({n_new})", path=path,
                         hint="fine-tune with the export's tokenizer or one extended from it (seq2gen vocab add)")
    if tokenizer is not None:
        _check_ids_kept(path, tokenizer)
    source = AutoModelForSeq2SeqLM.from_pretrained(str(path))
    state = source.state_dict()
    if n_old < n_new:
        target = model.state_dict()
        for name, w in state.items():
            if w.ndim == 2 and w.shape[0] == n_old and target[name].shape[0] == n_new:
                grown = target[name].detach().clone()
                grown[:n_old] = w
                state[name] = grown
    try:
        with torch.no_grad():
            model.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(f"init_from weights do not fit the model preset: {str(exc).splitlines()[0]}", path=path,
                         hint="use the same model preset and overrides as the run that wrote it") from None
    return {"old_vocab": n_old, "new_vocab": n_new}


def _check_ids_kept(path: Path, tokenizer) -> None:
    """Every token of the export's tokenizer has the same id in ``tokenizer`` (when the export saved one)."""
    if not (path / "tokenizer.json").is_file():
        return
    from transformers import PreTrainedTokenizerFast
    old = PreTrainedTokenizerFast(tokenizer_file=str(path / "tokenizer.json")).get_vocab()
    new = tokenizer.token_to_id if hasattr(tokenizer, "token_to_id") else tokenizer.get_vocab()
    moved = [t for t, i in old.items() if new.get(t) != i]
    if moved:
        raise InputError(f"{len(moved)} token(s) of the export's tokenizer have another id (or none) in the new "
                         f"one, e.g. {moved[0]} {old[moved[0]]} → {new.get(moved[0])}", path=path,
                         hint="extend the export's tokenizer with `seq2gen vocab add --tokenizer` instead of "
                              "rebuilding it")
