"""Score answers under a causal LM on its chat template: NLL, log-probability, greedy answers."""

from collections.abc import Sequence
from typing import Any

Messages = list[dict[str, str]]


def _ids(tok: Any, messages: Messages, *, generation_prompt: bool) -> list[int]:
    """Return the token ids of messages rendered with the tokenizer's chat template."""
    out = tok.apply_chat_template(
        messages, add_generation_prompt=generation_prompt, tokenize=True, return_dict=True
    )
    return list(out["input_ids"])


def prompt_ids(tok: Any, prompt_msgs: Messages) -> list[int]:
    """Return the ids of the templated prompt, ending where the assistant's answer starts."""
    return _ids(tok, prompt_msgs, generation_prompt=True)


def answer_split(tok: Any, prompt_msgs: Messages, answer: str) -> tuple[list[int], list[int]]:
    """Return (prompt ids, answer ids) as TRL splits prompt+completion (answer ends with eos)."""
    prompt = prompt_ids(tok, prompt_msgs)
    full = _ids(
        tok, [*prompt_msgs, {"role": "assistant", "content": answer}], generation_prompt=False
    )
    common = 0
    for a, b in zip(prompt, full, strict=False):
        if a != b:
            break
        common += 1
    return full[:common], full[common:]


def nll_batch(
    model: Any, tok: Any, examples: Sequence[tuple[Messages, str]], batch_size: int = 8
) -> list[tuple[float, int]]:
    """Return (sum NLL, answer token count) of each (prompt messages, answer) pair."""
    import torch

    results: list[tuple[float, int]] = []
    device = next(model.parameters()).device
    for start in range(0, len(examples), batch_size):
        splits = [answer_split(tok, p, a) for p, a in examples[start : start + batch_size]]
        width = max(len(p) + len(a) for p, a in splits)
        ids = torch.full((len(splits), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        labels = torch.full_like(ids, -100)
        for row, (p, a) in enumerate(splits):
            n = len(p) + len(a)
            ids[row, :n] = torch.tensor(p + a)
            mask[row, :n] = 1
            labels[row, len(p) : n] = torch.tensor(a)
        with torch.inference_mode():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        target = labels[:, 1:].to(device)
        picked = logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        keep = target != -100
        sums = -(picked * keep).sum(dim=1)
        counts = keep.sum(dim=1)
        results.extend(zip(sums.tolist(), counts.tolist(), strict=True))
    return results


def nll(model: Any, tok: Any, prompt_msgs: Messages, answer: str) -> tuple[float, int]:
    """Return (sum NLL, answer token count) of answer given the chat-templated prompt."""
    return nll_batch(model, tok, [(prompt_msgs, answer)])[0]


def logprob(model: Any, tok: Any, prompt_msgs: Messages, answer: str) -> float:
    """Return the summed log-probability of answer's tokens given the prompt."""
    return -nll(model, tok, prompt_msgs, answer)[0]


def greedy(model: Any, tok: Any, prompt_msgs: Messages, max_new_tokens: int) -> str:
    """Return the greedy answer to prompt_msgs (special tokens dropped)."""
    import torch

    device = next(model.parameters()).device
    ids = torch.tensor([prompt_ids(tok, prompt_msgs)], device=device)
    with torch.inference_mode():
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        )
    return tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
