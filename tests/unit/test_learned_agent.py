"""The task router, the response memory and the learned agent built from them."""

import itertools
import json
import math

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import log_loss as sklearn_log_loss

from tuneloop.agent.features import N_FEATURES, featurize
from tuneloop.agent.learned import (
    FALLBACK_ANSWER,
    MODEL_FORMAT,
    LearnedAgent,
    build_memory,
)
from tuneloop.agent.router import Hyperparameters, Router, log_loss, train_router

# Six task types, each with its own vocabulary; the sentence templates are shared, so only
# the topic words tell the tasks apart.
VOCABULARY = {
    "weather": ["rain", "snow", "forecast", "humidity", "thunderstorm", "drizzle"],
    "travel": ["flight", "hotel", "passport", "luggage", "airport", "itinerary"],
    "billing": ["invoice", "refund", "payment", "receipt", "subscription", "overcharge"],
    "legal.contracts": ["clause", "contract", "liability", "indemnity", "warranty", "lawsuit"],
    "cooking": ["recipe", "oven", "garlic", "simmer", "flour", "skillet"],
    "fitness": ["workout", "squat", "cardio", "treadmill", "dumbbell", "marathon"],
}
TRAIN_TEMPLATES = ("Can you help me with the {a}?", "I have a question about {a} and {b}")
TEST_TEMPLATES = ("Please explain the {a} to me", "Is there any news on the {a} or the {b}?")
HP = Hyperparameters(n_epochs=10, learning_rate=0.5, batch_size=16, seed=42)


def templated(templates, pairs_per_template: int, vocabulary=VOCABULARY) -> list[tuple]:
    """Return (text, task) rows: each template filled with pairs of the task's words."""
    rows = []
    for task, words in vocabulary.items():
        pairs = list(itertools.combinations(words, 2))[:pairs_per_template]
        for template in templates:
            rows += [(template.format(a=a, b=b), task) for a, b in pairs]
    return rows


TRAIN = templated(TRAIN_TEMPLATES, 8)
TEST = templated(TEST_TEMPLATES, 15)


def train(rows=TRAIN, hp=HP, validation=None, on_epoch=None) -> Router:
    features = featurize([text for text, _ in rows])
    return train_router(features, [task for _, task in rows], hp, validation, on_epoch)


@pytest.fixture(scope="module")
def trained():
    """One router trained on TRAIN, with the losses its epochs reported."""
    calls = []
    valid = templated(TEST_TEMPLATES, 2)
    held_out = (featurize([t for t, _ in valid]), [task for _, task in valid])
    router = train(validation=held_out, on_epoch=lambda *args: calls.append(args))
    return router, calls


def predict(router: Router, texts) -> list[str]:
    return [router.classes[i] for i in router.proba(featurize(list(texts))).argmax(axis=1)]


def as_sklearn(router: Router) -> SGDClassifier:
    """An SGDClassifier carrying the router's weights."""
    clf = SGDClassifier(loss="log_loss")
    clf.coef_, clf.intercept_ = router.coef, router.intercept
    clf.classes_ = np.asarray(router.classes)
    return clf


# --- the router ---------------------------------------------------------------------------


def test_generated_data_has_six_task_types_and_no_test_text_in_training():
    assert {task for _, task in TRAIN} == set(VOCABULARY)
    assert not {t for t, _ in TRAIN} & {t for t, _ in TEST}


def test_router_learns_the_task_of_unseen_templated_inputs(trained):
    router, _ = trained
    predicted = predict(router, [text for text, _ in TEST])
    accuracy = np.mean([p == task for p, (_, task) in zip(predicted, TEST, strict=True)])
    assert accuracy >= 0.95


def test_router_classes_are_the_sorted_task_types(trained):
    router, _ = trained
    assert router.classes == sorted(VOCABULARY)
    assert router.coef.shape == (6, N_FEATURES)
    assert router.intercept.shape == (6,)


def test_epoch_callback_is_called_once_per_epoch_with_finite_losses(trained):
    _, calls = trained
    assert [epoch for epoch, _, _ in calls] == list(range(1, HP.n_epochs + 1))
    for _, train_loss, valid_loss in calls:
        assert math.isfinite(train_loss) and train_loss > 0
        assert valid_loss is not None and math.isfinite(valid_loss) and valid_loss > 0


def test_train_loss_decreases_overall(trained):
    _, calls = trained
    losses = [train_loss for _, train_loss, _ in calls]
    assert losses[-1] < 0.5 * losses[0]
    assert sum(b < a for a, b in itertools.pairwise(losses)) >= len(losses) - 2


def test_validation_loss_decreases_overall(trained):
    _, calls = trained
    assert calls[-1][2] < calls[0][2]


def test_without_validation_the_callback_gets_none_for_validation_loss():
    calls = []
    train(hp=Hyperparameters(n_epochs=2, batch_size=64), on_epoch=lambda *a: calls.append(a))
    assert [(epoch, valid) for epoch, _, valid in calls] == [(1, None), (2, None)]


def test_reported_train_loss_is_the_log_loss_of_the_returned_router():
    calls = []
    router = train(
        hp=Hyperparameters(n_epochs=3, batch_size=32), on_epoch=lambda *a: calls.append(a)
    )
    features = featurize([t for t, _ in TRAIN])
    assert calls[-1][1] == pytest.approx(log_loss(router, features, [k for _, k in TRAIN]))


def test_same_data_and_seed_give_bit_identical_models(trained):
    router, _ = trained
    again = train()
    assert json.dumps(again.to_dict()) == json.dumps(router.to_dict())
    assert np.array_equal(again.coef, router.coef)
    assert np.array_equal(again.intercept, router.intercept)


def test_different_seed_gives_different_weights(trained):
    router, _ = trained
    other = train(hp=Hyperparameters(n_epochs=10, learning_rate=0.5, batch_size=16, seed=7))
    assert other.classes == router.classes
    assert not np.array_equal(other.coef, router.coef)


def test_to_dict_survives_json_and_gives_identical_probabilities(trained):
    router, _ = trained
    data = json.loads(json.dumps(router.to_dict()))
    loaded = Router.from_dict(data)
    features = featurize([t for t, _ in TEST])
    assert loaded.classes == router.classes
    assert np.array_equal(loaded.coef, router.coef)
    assert np.array_equal(loaded.proba(features), router.proba(features))


def test_to_dict_keeps_only_non_zero_coefficients(trained):
    router, _ = trained
    data = router.to_dict()
    assert len(data["coef"]) == len(router.classes)
    for row, weights in zip(data["coef"], router.coef, strict=True):
        assert len(row["index"]) == np.count_nonzero(weights) < N_FEATURES
        assert all(v != 0 for v in row["value"])


def test_proba_rows_are_distributions(trained):
    router, _ = trained
    proba = router.proba(featurize([t for t, _ in TEST]))
    assert proba.shape == (len(TEST), 6)
    assert np.all(proba >= 0) and np.all(proba <= 1)
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_proba_matches_sklearn_predict_proba_for_many_classes(trained):
    router, _ = trained
    features = featurize([t for t, _ in TEST])
    expected = as_sklearn(router).predict_proba(features)
    np.testing.assert_allclose(router.proba(features), expected, rtol=0, atol=1e-12)


BINARY = templated(TRAIN_TEMPLATES, 6, {k: VOCABULARY[k] for k in ("billing", "cooking")})


def test_binary_router_has_one_weight_row_and_two_probability_columns():
    router = train(BINARY, Hyperparameters(n_epochs=3, batch_size=8))
    features = featurize(["Where is my refund?", "How long to simmer the garlic?", "hello"])
    proba = router.proba(features)
    assert router.classes == ["billing", "cooking"]
    assert router.coef.shape == (1, N_FEATURES)
    assert proba.shape == (3, 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba, as_sklearn(router).predict_proba(features), atol=1e-12)
    assert predict(router, ["Where is my refund?", "How long to simmer the garlic?"]) == [
        "billing",
        "cooking",
    ]


def test_binary_router_survives_a_json_round_trip():
    router = train(BINARY, Hyperparameters(n_epochs=2, batch_size=8))
    loaded = Router.from_dict(json.loads(json.dumps(router.to_dict())))
    features = featurize([t for t, _ in BINARY])
    assert np.array_equal(loaded.proba(features), router.proba(features))


def test_log_loss_equals_sklearn_log_loss(trained):
    router, _ = trained
    features = featurize([t for t, _ in TEST])
    labels = [task for _, task in TEST]
    expected = sklearn_log_loss(labels, router.proba(features), labels=router.classes)
    assert log_loss(router, features, labels) == pytest.approx(expected, rel=1e-9)


def test_log_loss_is_finite_for_a_hopelessly_wrong_router():
    coef = np.zeros((1, N_FEATURES))
    router = Router(["a", "b"], coef, np.array([100.0]))  # p(b) ~ 1 everywhere
    loss = log_loss(router, featurize(["x", "y"]), ["a", "a"])
    assert math.isfinite(loss)
    assert loss == pytest.approx(-math.log(1e-15), rel=1e-6)


def test_log_loss_of_a_uniform_router_is_log_of_class_count():
    router = Router(["a", "b", "c"], np.zeros((3, N_FEATURES)), np.zeros(3))
    assert log_loss(router, featurize(["x", "y"]), ["a", "c"]) == pytest.approx(math.log(3))


@pytest.mark.parametrize(
    "labels",
    [("billing", "legal.contracts"), ("A-1", "b:2"), ("x", "y.z_w-v")],
    ids=["dotted", "mixed", "odd"],
)
def test_any_task_type_label_is_learnable(labels):
    vocabulary = dict(zip(labels, (VOCABULARY["billing"], VOCABULARY["cooking"]), strict=True))
    rows = templated(TRAIN_TEMPLATES, 6, vocabulary)
    router = train(rows, Hyperparameters(n_epochs=5, batch_size=8))
    assert router.classes == sorted(labels)
    tests = templated(TEST_TEMPLATES, 6, vocabulary)
    assert predict(router, [t for t, _ in tests]) == [task for _, task in tests]


@pytest.mark.parametrize("labels", [["only"] * 4, []])
def test_fewer_than_two_task_types_raises(labels):
    features = featurize(["a b c"] * len(labels) or ["a"])[: len(labels)]
    with pytest.raises(ValueError, match="at least two task types"):
        train_router(features, labels, HP)


def test_a_task_type_seen_only_in_validation_still_becomes_a_class():
    rows = templated(TRAIN_TEMPLATES, 3, {"billing": VOCABULARY["billing"]})
    valid = (featurize(["Is my contract valid?"]), ["legal.contracts"])
    router = train(rows, Hyperparameters(n_epochs=1, batch_size=8), validation=valid)
    assert router.classes == ["billing", "legal.contracts"]


# --- the memory ---------------------------------------------------------------------------


def example(text, output, rating, task="billing"):
    return {"input": text, "output": output, "rating": rating, "task_type": task, "source": "h"}


def test_memory_groups_by_task_and_orders_by_rating_best_first():
    memory = build_memory(
        [
            example("refund please", "ok refund", 0.8),
            example("invoice copy", "here it is", 0.95),
            example("hi chef", "hello", 0.9, "cooking"),
        ]
    )
    assert list(memory) == ["billing", "cooking"]
    assert [r["rating"] for r in memory["billing"]] == [0.95, 0.8]
    assert memory["billing"][0] == {"input": "invoice copy", "output": "here it is", "rating": 0.95}


def test_memory_keeps_the_best_rated_answer_of_a_repeated_input():
    memory = build_memory(
        [
            example("Where is my refund?", "worse answer", 0.81),
            example("where is my REFUND?", "best answer", 0.99),
            example("Where is my refund?", "middle answer", 0.9),
        ]
    )
    assert memory["billing"] == [
        {"input": "where is my REFUND?", "output": "best answer", "rating": 0.99}
    ]


def test_memory_is_capped_per_task_keeping_the_best():
    rows = [example(f"question {i}", f"answer {i}", i / 100) for i in range(100)]
    rows += [example(f"dish {i}", f"cook {i}", 0.9, "cooking") for i in range(3)]
    memory = build_memory(rows, per_task=5)
    assert [r["input"] for r in memory["billing"]] == [
        f"question {i}" for i in (99, 98, 97, 96, 95)
    ]
    assert len(memory["cooking"]) == 3


def test_memory_is_independent_of_input_order():
    rows = [example(f"q{i % 7}", f"a{i}", round((i * 37 % 11) / 10, 1)) for i in range(30)]
    assert build_memory(rows) == build_memory(list(reversed(rows)))


def test_memory_default_cap_is_64():
    rows = [example(f"question {i}", "answer", 0.9) for i in range(100)]
    assert len(build_memory(rows)["billing"]) == 64


# --- the learned agent --------------------------------------------------------------------

ANSWERS = {task: f"Answer about {task}." for task in VOCABULARY}


@pytest.fixture(scope="module")
def agent(trained) -> LearnedAgent:
    router, _ = trained
    rows = [example(t, f"{ANSWERS[task]} ({t})", 0.9, task) for t, task in TRAIN]
    return LearnedAgent("ft-test", router, build_memory(rows))


def test_learned_agent_routes_and_answers_from_the_routed_task(agent):
    for text, task in TEST[::7]:
        response = agent.respond(text)
        assert response.task_type == task
        assert response.text.startswith(ANSWERS[task])
        assert 0 < response.confidence <= 1
        assert f"routed to '{task}'" in response.reasoning


def test_learned_agent_answers_with_the_most_similar_memory_input(trained):
    router, _ = trained
    memory = build_memory(
        [
            example("Where is my refund for the overcharge?", "REFUND ANSWER", 0.85),
            example("Send me a copy of the invoice receipt", "INVOICE ANSWER", 0.95),
            example("Cancel the subscription payment", "SUBSCRIPTION ANSWER", 0.9),
        ]
    )
    agent = LearnedAgent("ft-sim", router, memory)
    assert agent.respond("I want a refund for this overcharge").text == "REFUND ANSWER"
    assert agent.respond("Can I get the invoice receipt?").text == "INVOICE ANSWER"
    assert agent.respond("Stop my subscription payment").text == "SUBSCRIPTION ANSWER"


def test_learned_agent_never_answers_from_another_task(trained):
    router, _ = trained
    memory = build_memory(
        [
            example("refund refund refund", "BILLING ANSWER", 0.9),
            # Nearly the question below, but filed under another task.
            example("Where is my refund?", "COOKING ANSWER", 0.99, "cooking"),
        ]
    )
    response = LearnedAgent("ft-x", router, memory).respond("Where is my refund?")
    assert response.task_type == "billing"
    assert response.text == "BILLING ANSWER"


def test_learned_agent_breaks_similarity_ties_by_best_rating(trained):
    router, _ = trained
    memory = build_memory(
        [
            example("alpha", "LOW", 0.81),
            example("beta", "HIGH", 0.99),
            example("gamma", "MID", 0.9),
        ]
    )
    # No n-gram overlap with any memory input: every similarity is 0.
    response = LearnedAgent("ft-tie", router, memory).respond("Where is my refund?")
    assert response.text == "HIGH"


def test_learned_agent_falls_back_when_the_routed_task_has_no_memory(trained):
    router, _ = trained
    agent = LearnedAgent("ft-empty", router, {"billing": []})
    response = agent.respond("Where is my refund?")
    assert response.task_type == "billing"
    assert response.text == FALLBACK_ANSWER
    assert "no rated answer" in response.reasoning
    assert agent.respond("Preheat the oven").text == FALLBACK_ANSWER


def test_learned_agent_confidence_is_the_router_probability(agent):
    text = "Is there a refund for the invoice?"
    proba = agent.router.proba(featurize([text]))[0]
    assert agent.respond(text).confidence == round(float(proba.max()), 4)


def test_respond_many_equals_respond_one_by_one(agent):
    texts = [t for t, _ in TEST[:12]]
    assert agent.respond_many(texts) == [agent.respond(t) for t in texts]


def test_respond_many_of_nothing_is_an_empty_list(agent):
    assert agent.respond_many([]) == []


def test_learned_agent_round_trips_through_json(agent):
    data = json.loads(json.dumps(agent.to_dict()))
    assert data["format"] == MODEL_FORMAT
    assert data["model_id"] == "ft-test"
    loaded = LearnedAgent.from_dict(data)
    texts = [t for t, _ in TEST[::5]]
    assert loaded.respond_many(texts) == agent.respond_many(texts)


def test_learned_agent_rejects_an_unknown_model_format(agent):
    data = {**agent.to_dict(), "format": "tuneloop.learned/0"}
    with pytest.raises(ValueError, match="unknown model format"):
        LearnedAgent.from_dict(data)
