"""Extended vocabulary: the YAML token grammar, the HF tokenizer built from it, and value quantizers."""
from seq2gen.vocab.grammar import DEFAULT_VOCAB_DIR, Vocabulary
from seq2gen.vocab.quantize import Quantizer, load_quantizers, save_quantizers
from seq2gen.vocab.tokenizer import MODES, Seq2GenTokenizer, build_tokenizer, encode_pieces

__all__ = ["DEFAULT_VOCAB_DIR", "MODES", "Quantizer", "Seq2GenTokenizer", "Vocabulary", "build_tokenizer",
           "encode_pieces", "load_quantizers", "save_quantizers"]
