"""seq2gen: genomics as a text-to-text problem (one T5 over DNA + task/tissue/position/value tokens)."""
__version__ = "0.1.0"
