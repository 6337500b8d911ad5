"""What a model kind's trainer and evaluator get and give: the seam the stages call through.

The fine_tune stage hands the trainer of the job's model kind a TrainingRun: the job's rows
(streamed, each on its side of the split), its resolved hyperparameters and request, and
hooks to record an epoch (which also stops the trainer when the job was cancelled or this
runner lost its lease, and says when the job is pausing: the trainer then writes that epoch's
checkpoint and stops) and check a size against the limit, and the store for the job's
events and checkpoints. The trainer returns a Trained; the stage saves, publishes and reports it.
The evaluate_* stages answer eval cases through the kind's evaluator (answer_cases unless
the kind registers its own).
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn, Protocol

from tuneloop.agent.protocol import Agent
from tuneloop.agent.response import AgentResponse

if TYPE_CHECKING:  # the store is the worker's; agents import no Redis client
    from tuneloop.job_request import JobRequest
    from tuneloop.store import Store


class TrainingRun(Protocol):
    """One fine_tune run of a job, as a trainer sees it (tuneloop.pipeline.fine_tune)."""

    store: "Store"  # events and checkpoints under the job (store.jobs, store.artifacts)
    job_id: str
    model_id: str  # the id the trained model is saved under
    hyperparameters: dict  # resolved at prepare: no "auto" left
    request: "JobRequest"  # the job's request (options such as out_of_scope_task)
    checkpoint_interval: float  # least seconds between checkpoints

    def kept_rows(self) -> Iterator[list[dict]]:
        """Yield the job's examples that passed the filter, in batches (all sides)."""
        ...

    def sides(self) -> tuple[int, float | None, frozenset[int]]:
        """Return what tuneloop.stages.prepare.side_of needs to place an input on its side."""
        ...

    def training_rows(self) -> Iterator[list[dict]]:
        """Yield the kept examples on the training side, in batches."""
        ...

    def validation_rows(self) -> Iterator[list[dict]]:
        """Yield the kept examples on the validation side, in batches."""
        ...

    def record_epoch(self, n_epochs: int, row: dict) -> bool:
        """Record an epoch's losses once; raise JobCancelled or StageSkipped to stop. Return
        True when the job is pausing: write this epoch's checkpoint, then stop("paused")."""
        ...

    def check_size(self, size: int, qualifier: str = "") -> None:
        """Fail the job with model_too_large when size bytes is over the limit."""
        ...

    def epochs_trained(self, n: int, seconds: float) -> None:
        """Count the epochs this run trained and their training time (metrics)."""
        ...

    def stop_reason(self) -> str | None:
        """Return why training must stop now ("ended", "lease"), or stop after a checkpoint
        ("paused"), or None (for step checks)."""
        ...

    def stop(self, reason: str) -> NoReturn:
        """Raise what ends the run for a stop_reason (JobCancelled, JobPaused, StageSkipped)."""
        ...


@dataclass
class Trained:
    """What a trainer gives back: the agent, what the job result says about training.

    summary (message, data) is the job's fine_tune:summary event, written once the model is
    published, with the model's bytes added to data.
    """

    agent: Agent
    report: dict  # epochs (losses per epoch), best_epoch, stopped_early, abstention
    training_examples: int
    epochs: int  # epochs run: fewer than asked when training stopped early
    summary: tuple[str, dict] | None = None


Trainer = Callable[[TrainingRun], Trained]
Evaluator = Callable[[Agent, Sequence[str]], list[AgentResponse]]


def answer_cases(agent: Agent, texts: Sequence[str]) -> list[AgentResponse]:
    """Answer eval inputs as the model would answer them through the API."""
    return agent.respond_many(texts)
