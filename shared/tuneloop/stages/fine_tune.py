"""Fine-tune: train the router epoch by epoch and build the response memory."""

from collections.abc import Sequence

from tuneloop.agent.features import featurize
from tuneloop.agent.learned import LearnedAgent, build_memory
from tuneloop.agent.router import CheckpointCallback, EpochCallback, Hyperparameters, train_router
from tuneloop.errors import StageError


def fine_tune(
    train: Sequence[dict],
    validation: Sequence[dict],
    hp: Hyperparameters,
    model_id: str,
    on_epoch: EpochCallback | None = None,
    resume: dict | None = None,
    on_checkpoint: CheckpointCallback | None = None,
) -> dict:
    """Return the fine-tuned agent as JSON-able data; validation is never trained on."""
    if len({ex["task_type"] for ex in train}) < 2:
        raise StageError(
            "too_few_task_types",
            "fine-tuning needs examples of at least two task types after filtering",
        )
    features = featurize([ex["input"] for ex in train])
    labels = [ex["task_type"] for ex in train]
    held_out = None
    if validation:
        held_out = (
            featurize([ex["input"] for ex in validation]),
            [ex["task_type"] for ex in validation],
        )
    router = train_router(features, labels, hp, held_out, on_epoch, resume, on_checkpoint)
    return LearnedAgent(model_id, router, build_memory(train)).to_dict()
