"""seq2gen.model: T5 / LongT5 presets (configs/model/*.yaml) sized to the tokenizer, optionally with a convolutional
nucleotide stem (``stem: conv``) or a chunked encoder (``encoder_chunk``), docs/model.md.

Importing this package registers the stem models (``seq2gen_t5``, ``seq2gen_longt5``) and the chunked T5
(``seq2gen_t5_chunked``) with ``AutoConfig`` and
``AutoModelForSeq2SeqLM``, so ``AutoModelForSeq2SeqLM.from_pretrained`` reloads them.
"""
from seq2gen.model import chunked, stem  # noqa: F401  (registration with the Auto classes)
from seq2gen.model.build import STEMS, build_model, count_parameters, list_presets, load_preset

__all__ = ["STEMS", "build_model", "chunked", "count_parameters", "list_presets", "load_preset", "stem"]
