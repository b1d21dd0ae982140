"""seq2gen.model: T5 / LongT5 presets (configs/model/*.yaml) sized to the tokenizer."""
from seq2gen.model.build import build_model, count_parameters, list_presets, load_preset

__all__ = ["build_model", "count_parameters", "list_presets", "load_preset"]
