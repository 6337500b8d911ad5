"""LoRA fine-tuning of a causal LM with TRL: supervised (SFTTrainer) or dpo (DPOTrainer).

`train` is a pure library call: rows in, an adapter directory out, progress through hooks.
Checkpoints are Hugging Face checkpoint dirs (adapter, optimizer, scheduler, RNG and
trainer_state), one per epoch; only the latest is kept on disk, so a hook copies what it needs
while it runs. A pause the hooks ask for after a step inside an epoch saves a checkpoint at
that step, hands it to on_pause, and stops (Stopped): resumed from it, training skips the
batches of the epoch already trained and ends as a run never paused. Overhead over a bare TRL
run: one loss `.item()` per step (logging_steps=1) and the per-epoch checkpoint and evaluation.
"""

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tuneloop.llm import models

LLAMA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class Stopped(Exception):  # noqa: N818 - the name says what happened, like StopIteration
    """should_stop() asked training to stop, or a pause's checkpoint was handed over; no
    adapter was written."""


class Hooks(Protocol):
    """What train reports to and asks of its caller."""

    def on_step(self, step: int, train_loss: float) -> None: ...

    def on_epoch(
        self, epoch: int, checkpoint_dir: Path, train_loss: float, valid_loss: float | None
    ) -> None: ...

    def should_stop(self) -> bool: ...

    def pause_requested(self) -> bool: ...

    def on_pause(self, step: int, checkpoint_dir: Path) -> None: ...


class NoHooks:
    """Hooks that observe nothing and never stop."""

    def on_step(self, step: int, train_loss: float) -> None:
        """Ignore a step."""

    def on_epoch(
        self, epoch: int, checkpoint_dir: Path, train_loss: float, valid_loss: float | None
    ) -> None:
        """Ignore an epoch."""

    def should_stop(self) -> bool:
        """Never stop."""
        return False

    def pause_requested(self) -> bool:
        """Never pause."""
        return False

    def on_pause(self, step: int, checkpoint_dir: Path) -> None:
        """Ignore a pause's checkpoint."""


@dataclass
class TrainResult:
    """What a finished training run produced."""

    adapter_dir: Path
    epochs: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0
    train_tokens: int = 0
    seconds: float = 0.0


def _epoch_of(value: float) -> int:
    """Return the 1-based epoch a log entry's fractional epoch falls in."""
    return max(1, math.ceil(round(value, 6)))


def epoch_losses(log_history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return [{epoch, train_loss, valid_loss}] from a trainer_state log history."""
    train: dict[int, list[float]] = {}
    valid: dict[int, float] = {}
    for entry in log_history:
        if "loss" in entry and "epoch" in entry:
            train.setdefault(_epoch_of(entry["epoch"]), []).append(float(entry["loss"]))
        if "eval_loss" in entry:
            valid[_epoch_of(entry["epoch"])] = float(entry["eval_loss"])
    return [
        {"epoch": e, "train_loss": sum(train[e]) / len(train[e]), "valid_loss": valid.get(e)}
        for e in sorted(train)
    ]


def _at_epoch_end(epoch: float) -> bool:
    """Return whether a trainer state's fractional epoch is a whole number of epochs."""
    return abs(epoch - round(epoch)) < 1e-6


def _callback(hooks: Hooks, log_every: int):
    """Return a TrainerCallback that forwards steps, epoch checkpoints, stop and pause requests.

    A pause asked after a step inside an epoch saves a checkpoint at that step (the epoch's
    last step leaves it to the epoch's own checkpoint, which on_epoch reports).
    """
    from transformers import TrainerCallback

    class Forward(TrainerCallback):
        pausing = False

        def on_step_begin(self, args, state, control, **kwargs):
            if hooks.should_stop():
                raise Stopped(f"stopped before step {state.global_step + 1}")

        def on_step_end(self, args, state, control, **kwargs):
            if not _at_epoch_end(state.epoch) and hooks.pause_requested():
                self.pausing = control.should_save = True

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs and state.global_step % log_every == 0:
                hooks.on_step(state.global_step, float(logs["loss"]))

        def on_save(self, args, state, control, **kwargs):
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if self.pausing:
                hooks.on_pause(state.global_step, checkpoint)
                raise Stopped(f"paused after step {state.global_step}")
            epoch = _epoch_of(state.epoch)
            row = next(r for r in epoch_losses(state.log_history) if r["epoch"] == epoch)
            hooks.on_epoch(epoch, checkpoint, row["train_loss"], row["valid_loss"])

    return Forward()


def lora_config(model: Any, hp: Mapping[str, Any]):
    """Return a peft LoraConfig from hp for a causal LM (Llama-like names, else all linear)."""
    from peft import LoraConfig

    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [t for t in LLAMA_TARGETS if t in names] or "all-linear"
    return LoraConfig(
        r=int(hp["lora_r"]),
        lora_alpha=int(hp["lora_alpha"]),
        lora_dropout=float(hp["lora_dropout"]),
        target_modules=targets,
        task_type="CAUSAL_LM",
    )


def _common_args(hp: Mapping[str, Any], output_dir: Path, has_valid: bool) -> dict[str, Any]:
    """Return the TrainingArguments shared by both methods: no reporting, epoch checkpoints."""
    import torch

    cuda = models.device() == "cuda"
    return {
        "output_dir": str(output_dir),
        "num_train_epochs": int(hp["n_epochs"]),
        "per_device_train_batch_size": int(hp["batch_size"]),
        "per_device_eval_batch_size": int(hp["batch_size"]),
        "learning_rate": float(hp["learning_rate"]),
        "max_length": int(hp["max_length"]),
        "seed": int(hp["seed"]),
        "data_seed": int(hp["seed"]),
        "logging_strategy": "steps",
        "logging_steps": 1,
        "eval_strategy": "epoch" if has_valid else "no",
        "save_strategy": "epoch",
        "save_total_limit": 1,
        "report_to": "none",
        "push_to_hub": False,
        "disable_tqdm": True,
        "activation_checkpointing": False,
        "bf16": cuda and torch.cuda.is_bf16_supported(),
        "fp16": False,
        "use_cpu": not cuda,
        "dataloader_pin_memory": cuda,
        "dataloader_num_workers": 0,
        "warmup_steps": 0,
    }


def _quiet(trainer: Any) -> Any:
    """Drop the callback that prints every log dict to stdout (the hooks report progress)."""
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    return trainer


def build_trainer(
    method: str,
    base_location: str | Path,
    train: Sequence[Mapping[str, Any]],
    valid: Sequence[Mapping[str, Any]],
    hp: Mapping[str, Any],
    workdir: Path,
    hooks: Hooks | None = None,
):
    """Return a TRL trainer for method ("supervised" or "dpo") on base + a fresh LoRA adapter."""
    import datasets
    from transformers import set_seed

    datasets.disable_progress_bars()
    set_seed(int(hp["seed"]))
    model, tokenizer = models.load_base(base_location)
    model.train()
    train_set = datasets.Dataset.from_list([dict(r) for r in train])
    valid_set = datasets.Dataset.from_list([dict(r) for r in valid]) if valid else None
    args = _common_args(hp, Path(workdir) / "checkpoints", valid_set is not None)
    callbacks = [_callback(hooks or NoHooks(), max(1, int(hp.get("log_every", 1))))]
    common = {
        "model": model,
        "processing_class": tokenizer,
        "train_dataset": train_set,
        "eval_dataset": valid_set,
        "peft_config": lora_config(model, hp),
        "callbacks": callbacks,
    }
    if method == "supervised":
        from trl import SFTConfig, SFTTrainer

        config = SFTConfig(**args, completion_only_loss=True, packing=False)
        return _quiet(SFTTrainer(args=config, **common))
    if method == "dpo":
        from trl import DPOConfig, DPOTrainer

        config = DPOConfig(**args, beta=float(hp["beta"]))
        return _quiet(DPOTrainer(args=config, **common))
    raise ValueError(f"unknown training method {method!r}")


def checkpoint_epoch(checkpoint_dir: str | Path) -> float:
    """Return the (fractional) epoch a checkpoint dir was written at, from its trainer_state."""
    state = json.loads((Path(checkpoint_dir) / "trainer_state.json").read_text())
    return float(state["epoch"])


def _tokens_per_epoch(dataset: Any) -> int:
    """Return the tokens one pass over a tokenized TRL dataset feeds the model."""
    columns = set(dataset.column_names)
    if "input_ids" in columns:
        return sum(len(ids) for ids in dataset["input_ids"])
    prompt = sum(len(ids) for ids in dataset["prompt_ids"])
    return 2 * prompt + sum(len(i) for c in ("chosen_ids", "rejected_ids") for i in dataset[c])


def train(
    method: str,
    base_location: str | Path,
    train: Sequence[Mapping[str, Any]],
    valid: Sequence[Mapping[str, Any]],
    hp: Mapping[str, Any],
    workdir: str | Path,
    hooks: Hooks | None = None,
    resume_from: str | Path | None = None,
) -> TrainResult:
    """Fine-tune a LoRA adapter on train; return where it is and the per-epoch losses."""
    started = time.monotonic()
    workdir = Path(workdir)
    trainer = build_trainer(method, base_location, train, valid, hp, workdir, hooks)
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    adapter_dir = workdir / "adapter"
    trainer.save_model(str(adapter_dir))
    epochs = epoch_losses(trainer.state.log_history)
    done = trainer.state.epoch - (checkpoint_epoch(resume_from) if resume_from else 0.0)
    return TrainResult(
        adapter_dir=adapter_dir,
        epochs=epochs,
        steps=trainer.state.global_step,
        train_tokens=round(_tokens_per_epoch(trainer.train_dataset) * max(0.0, done)),
        seconds=time.monotonic() - started,
    )
