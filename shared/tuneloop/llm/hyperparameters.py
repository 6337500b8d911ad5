"""A language-model job's hyperparameters, "auto" resolved from the number of training rows.

The auto rules (n = training rows; pairs for dpo):
- n_epochs = clamp(ceil(100 / max(1, n)), 1, 10): about 100 examples seen in all, so a tiny
  set gets several passes and a large one a single pass.
- batch_size = clamp(largest power of two <= n // 8, 1, 8): steps stay frequent on small
  sets; 8 bounds the memory of one step on CPU.
- learning_rate = base x learning_rate_multiplier (auto multiplier 1.0), with base 2e-4 for
  supervised (the usual LoRA SFT rate) and 5e-5 for dpo (DPO wants a rate about 4x smaller
  than SFT; LoRA adapters need a larger one than full fine-tuning's usual 5e-6). A number
  given as learning_rate is used as is.
- beta (dpo only) = 0.1, TRL's default.
- lora_r 8, lora_alpha 16, lora_dropout 0.0, max_length 512 tokens, seed 42, log_every 10 steps.
No heavy imports: the gateway shows what a job will train with.
"""

import math
from collections.abc import Mapping
from typing import Any, Final

AUTO: Final = "auto"
BASE_LEARNING_RATE: Final = {"supervised": 2e-4, "dpo": 5e-5}
DEFAULT_BETA: Final = 0.1
DEFAULTS: Final = {
    "lora_r": 8,
    "lora_alpha": 16,
    "lora_dropout": 0.0,
    "max_length": 512,
    "seed": 42,
    "log_every": 10,
}
MAX_AUTO_EPOCHS, MAX_AUTO_BATCH = 10, 8


def auto_epochs(n_train: int) -> int:
    """Passes over the data: about 100 examples seen, 1-10 passes."""
    return min(MAX_AUTO_EPOCHS, max(1, math.ceil(100 / max(1, n_train))))


def auto_batch_size(n_train: int) -> int:
    """Rows per step: the largest power of two at most n_train // 8, within 1-8."""
    eighth = max(1, n_train // 8)
    return min(MAX_AUTO_BATCH, 1 << (eighth.bit_length() - 1))


def _given(requested: Mapping[str, Any], name: str) -> Any:
    """The requested value, or None when absent or "auto"."""
    value = requested.get(name)
    return None if value is None or value == AUTO else value


def resolve(method: str, requested: Mapping[str, Any], n_train: int) -> dict[str, Any]:
    """Return every hyperparameter of method with "auto" resolved for n_train training rows."""
    if method not in BASE_LEARNING_RATE:
        raise ValueError(f"unknown method {method!r}: one of {', '.join(BASE_LEARNING_RATE)}")
    multiplier = _given(requested, "learning_rate_multiplier") or 1.0
    out: dict[str, Any] = {
        "method": method,
        "n_epochs": _given(requested, "n_epochs") or auto_epochs(n_train),
        "batch_size": _given(requested, "batch_size") or auto_batch_size(n_train),
        "learning_rate_multiplier": multiplier,
        "learning_rate": _given(requested, "learning_rate")
        or BASE_LEARNING_RATE[method] * multiplier,
    }
    if method == "dpo":
        out["beta"] = _given(requested, "beta") or DEFAULT_BETA
    for name, default in DEFAULTS.items():
        value = requested.get(name)
        out[name] = default if value is None or value == AUTO else value
    return out
