"""Open-weight causal language models fine-tuned with LoRA: the second kind of model.

spec (names, the base-model list), rows (training examples and preference pairs) and
hyperparameters are light: the gateway imports them. The rest imports torch, transformers,
peft and trl (the `llm` extra), and only the llm worker loads it.
"""
