"""The encoder agent: routing on [embedding ⊕ n-grams], answers by embedding, its abstention."""

import numpy as np
import pytest

from tuneloop.agent.softmax import Softmax
from tuneloop.encoder import embedding
from tuneloop.encoder.abstention import choose
from tuneloop.encoder.agent import EncoderAgent
from tuneloop.encoder.features import EMBEDDING_WEIGHT, N_INPUTS, encoded_features
from tuneloop.encoder.spec import DIM

MEMORY = {
    "refund": [
        {
            "input": "I want my money back for this order",
            "output": "Refund started.",
            "rating": 1.0,
        },
        {"input": "how do I change my delivery address", "output": "Address form.", "rating": 0.9},
    ],
    "weather": [
        {"input": "will it rain in Paris tomorrow", "output": "Forecast: rain.", "rating": 1.0},
    ],
}


def router_on(classes: list[str], anchors: dict[str, str]) -> Softmax:
    """Return a router whose weights score each class by similarity to its anchor's embedding."""
    weights = np.zeros((N_INPUTS, len(classes)), dtype=np.float32)
    for k, task in enumerate(classes):
        weights[N_INPUTS - DIM :, k] = 20 * embedding.embed([anchors[task]]).vectors[0]
    weights = weights.astype(np.float16).astype(np.float32)  # as a saved model keeps them
    return Softmax(classes, weights, np.zeros(len(classes), dtype=np.float32))


@pytest.fixture(scope="module")
def agent() -> EncoderAgent:
    router = router_on(["refund", "weather"], {"refund": "refund", "weather": "weather"})
    return EncoderAgent("ft-enc", router, MEMORY)


def test_features_put_the_weighted_embedding_after_the_ngrams() -> None:
    vectors = embedding.embed(["reimburse me"]).vectors
    row = encoded_features(["reimburse me"], vectors).toarray()[0]
    assert row.shape == (N_INPUTS,)
    assert np.allclose(row[-DIM:], EMBEDDING_WEIGHT * vectors[0])
    assert np.isclose(np.linalg.norm(row[:-DIM]), 1.0, atol=1e-5)  # the n-gram part


def test_nearest_example_is_chosen_by_meaning_not_shared_words(agent: EncoderAgent) -> None:
    # shares "my" and "for" with neither refund example in a telling way; means money back
    answer = agent.respond("please reimburse the payment")
    assert answer.task_type == "refund"
    assert answer.text == "Refund started."
    assert (
        "the nearest by meaning: 'I want my money back for this order' (similarity"
        in answer.reasoning
    )


def test_saved_agent_answers_the_same_and_checks_the_encoder(agent: EncoderAgent) -> None:
    agent.abstain_task, agent.abstain_threshold, agent.abstain_similarity = "weather", 0.0, 0.5
    try:
        again = EncoderAgent.load("ft-enc", agent.save())
        texts = ["please reimburse the payment", "is it sunny in Rome", "zzz qqq"]
        assert [a.to_dict() for a in again.respond_many(texts)] == [
            a.to_dict() for a in agent.respond_many(texts)
        ]
        assert again.abstain_similarity == 0.5
    finally:
        agent.abstain_task = agent.abstain_threshold = agent.abstain_similarity = None


def test_an_input_far_from_every_example_abstains_on_distance(agent: EncoderAgent) -> None:
    text = "please reimburse the payment"
    (sure,) = agent.respond_many([text])
    sim = float(sure.reasoning.rsplit("similarity ", 1)[1].rstrip(")"))
    agent.abstain_task, agent.abstain_threshold = "weather", 0.0
    try:
        agent.abstain_similarity = sim + 0.01  # just above this input's nearest similarity
        (far,) = agent.respond_many([text])
        agent.abstain_similarity = sim - 0.01
        (near,) = agent.respond_many([text])
    finally:
        agent.abstain_task = agent.abstain_threshold = agent.abstain_similarity = None
    assert far.task_type == "weather" and "under" in far.reasoning and "similarity" in far.reasoning
    assert near.task_type == "refund"


def test_choose_uses_the_distance_when_probability_alone_cannot_catch_out_of_scope() -> None:
    # Out-of-scope rows (label 2) are routed confidently (p=0.9) but are far from every
    # example (similarity 0.5); in-scope rows are near (0.9) with p from 0.6 to 0.99.
    n_in, n_oos = 50, 10
    top = np.concatenate([np.linspace(0.6, 0.99, n_in), np.full(n_oos, 0.9)])
    similarity = np.concatenate([np.full(n_in, 0.9), np.full(n_oos, 0.5)])
    labels = np.concatenate([np.arange(n_in) % 2, np.full(n_oos, 2)])
    predicted = np.concatenate([np.arange(n_in) % 2, np.zeros(n_oos, dtype=int)])
    floor, chosen = choose(top, similarity, predicted, labels, 2, max_in_scope_loss=0.02)
    assert floor is not None and 0.5 < floor <= 0.9
    assert chosen.out_of_scope_recall == 1.0 and chosen.in_scope_loss == 0.0
