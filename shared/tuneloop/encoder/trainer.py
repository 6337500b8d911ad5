"""The encoder kind's trainer: the softmax trainer on [embedding ⊕ n-gram] rows.

The embeddings come from the cache the embed stage filled; a text missing there (its entry
expired or was evicted) is encoded here and counted in an event.
"""

import numpy as np

from tuneloop.agent.learned import as_saved
from tuneloop.agent.softmax import Softmax
from tuneloop.agent.trainer import Trained, TrainingRun
from tuneloop.encoder import embedding, neighbours
from tuneloop.encoder.abstention import set_abstention
from tuneloop.encoder.agent import EncoderAgent, bank_proba
from tuneloop.encoder.features import EncodedBank
from tuneloop.trainers import softmax
from tuneloop.trainers.softmax_fit import TrainingData, load_data


def _encoded_rows(run: TrainingRun) -> TrainingData:
    """Return the run's rows as n-gram features with their embeddings beside them."""
    cache, encoded = run.store.embeddings, [0, 0]  # texts read, texts encoded here

    def add(bank: EncodedBank, texts: list[str]) -> None:
        found = embedding.embed(texts, cache)
        encoded[0], encoded[1] = encoded[0] + len(texts), encoded[1] + found.encoded
        bank.add_encoded(texts, found.vectors)

    data = load_data(run.kept_rows(), *run.sides(), new_bank=EncodedBank, add=add)
    message = (
        f"read the embeddings of {encoded[0]} inputs; {encoded[1]} were not in the cache "
        "and were encoded here"
    )
    data_ = {"inputs": encoded[0], "encoded_here": encoded[1]}
    run.store.jobs.add_event(run.job_id, "fine_tune:embeddings", "message", message, data_)
    return data


def _agent(model_id: str, router: Softmax, data: TrainingData) -> EncoderAgent:
    """Return the encoder agent of a router (as saved), its memory and neighbours, the mix
    of the two chosen on the validation split."""
    router = as_saved(router)  # the agent answers here as it will once loaded
    memory = embedding.embed([r["input"] for rows in data.memory.values() for r in rows])
    kept = neighbours.keep(data.train_labels, len(data.classes), seed=0)
    agent = EncoderAgent(
        model_id,
        router,
        data.memory,
        vectors=memory.vectors.astype(np.float16),
        neighbour_vectors=data.train.vectors[kept],
        neighbour_labels=data.train_labels[kept].astype(np.int32),
    )
    if len(data.validation):
        proba = bank_proba(agent, data.validation, mixed=False)
        votes = neighbours.vote(
            data.validation.vectors,
            agent.neighbour_vectors,
            agent.neighbour_labels,
            len(data.classes),
        )
        losses = neighbours.choose_mix(proba, votes, data.validation_labels)
        agent.mix = min(losses, key=lambda mix: (losses[mix], mix))
        agent.mix_losses = [{"mix": mix, "log_loss": loss} for mix, loss in losses.items()]
    return agent


ENCODER = softmax.Recipe(_encoded_rows, _agent, set_abstention)


def train(run: TrainingRun) -> Trained:
    """Train (or resume) an encoder agent on the run's training side."""
    return softmax.train(run, ENCODER)
