"""The mock agent: a keyword baseline and a learnable router with response memory."""
