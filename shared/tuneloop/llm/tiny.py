"""A tiny causal LM from a config: random weights, a BPE tokenizer, a chat template.

It only shows the machinery (loss falling, adapters, serving), never language ability.
Size: parameters ~= layers * (4 * hidden**2 + 3 * hidden * 4 * hidden) + vocab * hidden (tied
embeddings), i.e. about 16 * layers * hidden**2. The defaults (hidden=64, layers=2) give ~0.15M;
`build(..., hidden=256, layers=8)` gives 8.39M + vocab * 256 (8.76M measured with a 1.4k-token
vocabulary, 9.4M with a full 4096 one): the ~10M-parameter model of the benchmark.
"""

from collections.abc import Iterable
from pathlib import Path

BOS, EOS, PAD = "<|bos|>", "<|eos|>", "<|pad|>"
ROLE_MARKERS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS = (PAD, BOS, EOS, *ROLE_MARKERS)

# Each turn is "<|role|>\n{content}<|eos|>". The prompt rendered with add_generation_prompt
# ends in "<|assistant|>\n", a prefix of the prompt+answer rendering, so TRL's completion mask
# and scoring find the answer tokens (the answer and its closing <|eos|>) exactly.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + eos_token }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab: int):
    """Return a byte-level BPE PreTrainedTokenizerFast trained on texts, with the chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(list(texts), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=list(ROLE_MARKERS),
        padding_side="right",
        model_max_length=1024,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build(
    out_dir: str | Path,
    texts: Iterable[str],
    *,
    hidden: int = 64,
    layers: int = 2,
    heads: int = 4,
    vocab: int = 512,
    seed: int = 0,
) -> Path:
    """Write a random-weight Llama-like model and its tokenizer trained on texts to out_dir."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM
    from transformers.utils import logging

    logging.disable_progress_bar()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(texts, vocab)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        # Variance-preserving init: with Llama's default 0.02 the tied output layer of a
        # tiny model cannot make sharp logits (max ~ hidden * 0.02), so LoRA can barely fit.
        initializer_range=hidden**-0.5,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def n_parameters(location: str | Path) -> int:
    """Return the parameter count of the model saved at location."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(location, local_files_only=True)
    return sum(p.numel() for p in model.parameters())
