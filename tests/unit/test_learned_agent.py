"""The learned agent (softmax router + response memory), its memory builder and its payload."""

import io
import random
from collections import Counter

import numpy as np
import pytest

from tuneloop.agent import npz
from tuneloop.agent.features import N_FEATURES, featurize
from tuneloop.agent.learned import FALLBACK_ANSWER, LearnedAgent
from tuneloop.agent.memory import MEMORY_PER_TASK, MemoryBuilder
from tuneloop.agent.softmax import Softmax, TrainConfig
from tuneloop.stages.prepare import HOLDOUT, TRAIN, VALIDATION, side_of
from tuneloop.text import normalize
from tuneloop.trainers.softmax_fit import fine_tune, load_data

# Four task types, each with its own topic words; the filler words are shared, so only the
# topic words tell the tasks apart. No answer repeats a word of its input (a topic word is
# never a task name), so answers are used as they are stored (see test_answer_fit.py).
TOPICS = {
    "billing": "invoice refund payment receipt subscription overcharge charge card balance",
    "cooking": "recipe oven garlic simmer flour skillet bake onion butter saute",
    "fitness": "workout squat cardio treadmill dumbbell marathon stretch protein jog",
    "legal.contracts": "clause covenant liability indemnity warranty lawsuit lease",
    "": "please can you help me with my the a about question need some info on today",
}
VOCABULARY = {task: words.split() for task, words in TOPICS.items() if task}
FILLER = TOPICS[""].split()
CLASSES = sorted(VOCABULARY)
SEED, HOLDOUT_FRACTION = 7, None  # no holdout: a fifth of the inputs validate
CONFIG = TrainConfig(
    n_epochs=6,
    learning_rate=0.5,
    batch_size=16,
    seed=3,
    l2=1e-6,
    early_stopping_patience=2,
)


def sentence(rng: random.Random, task: str) -> str:
    words = rng.sample(VOCABULARY[task], rng.randint(1, 3)) + rng.sample(FILLER, rng.randint(2, 5))
    rng.shuffle(words)
    return " ".join(words)


def examples(seed: int, per_task: int) -> list[dict]:
    """Return rated examples; each output names its task so answers can be traced back."""
    rng = random.Random(seed)
    rows = [
        {
            "input": sentence(rng, task),
            "output": f"[{task}] answer {i}",
            "rating": round(rng.uniform(0.7, 1.0), 2),
            "task_type": task,
        }
        for task in CLASSES
        for i in range(per_task)
    ]
    rng.shuffle(rows)
    return rows


EXAMPLES = examples(seed=1, per_task=50)
_seen = {normalize(e["input"]) for e in EXAMPLES}
HELD_OUT = [e for e in examples(seed=2, per_task=25) if normalize(e["input"]) not in _seen]


def batches(rows: list[dict], size: int) -> list[list[dict]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


@pytest.fixture(scope="module")
def trained():
    data = load_data(batches(EXAMPLES, 37), SEED, HOLDOUT_FRACTION)
    agent, state = fine_tune(data, CONFIG, "ft-test")
    return data, agent, state


@pytest.fixture(scope="module")
def agent(trained) -> LearnedAgent:
    return trained[1]


def answer_source(text: str) -> str:
    """Return the task an answer of the generated memory was written for."""
    return text[1 : text.index("]")]


# --- fine-tuned from streamed examples ------------------------------------------------------


@pytest.mark.parametrize("holdout", [None, 0.3])
def test_load_data_banks_hold_exactly_the_features_of_each_sides_inputs(holdout):
    data = load_data(batches(EXAMPLES, 37), SEED, holdout)
    train = [e for e in EXAMPLES if side_of(e["input"], SEED, holdout) == TRAIN]
    valid = [e for e in EXAMPLES if side_of(e["input"], SEED, holdout) == VALIDATION]
    held = [e for e in EXAMPLES if side_of(e["input"], SEED, holdout) == HOLDOUT]
    assert valid and train
    assert bool(held) == (holdout is not None)
    assert len(data.train) + len(data.validation) == len(EXAMPLES) - len(held)
    assert data.classes == CLASSES
    for bank, labels, rows in (
        (data.train, data.train_labels, train),
        (data.validation, data.validation_labels, valid),
    ):
        expected = featurize([e["input"] for e in rows])
        actual = bank.span(0, len(bank))
        assert actual.data.tobytes() == expected.data.tobytes()
        assert np.array_equal(actual.indices, expected.indices)
        assert np.array_equal(actual.indptr, expected.indptr)
        assert [CLASSES[i] for i in labels] == [e["task_type"] for e in rows]


def test_fine_tune_returns_the_agent_of_the_best_epoch(trained):
    data, agent, state = trained
    assert agent.model_id == "ft-test"
    assert agent.router.classes == CLASSES
    assert np.array_equal(agent.router.weights, state.best_weights)
    assert np.array_equal(agent.router.bias, state.best_bias)
    assert agent.memory == data.memory


def test_agent_routes_held_out_inputs_of_the_generated_tasks(agent):
    assert len(HELD_OUT) > 80
    responses = agent.respond_many([e["input"] for e in HELD_OUT])
    hits = [r.task_type == e["task_type"] for r, e in zip(responses, HELD_OUT, strict=True)]
    assert np.mean(hits) >= 0.95


def test_every_answer_comes_from_the_memory_of_the_task_it_was_routed_to(agent):
    for response in agent.respond_many([e["input"] for e in HELD_OUT]):
        assert response.text in {row["output"] for row in agent.memory[response.task_type]}
        assert answer_source(response.text) == response.task_type
        assert f"routed to '{response.task_type}'" in response.reasoning
        assert 0 < response.confidence <= 1


def test_an_exact_match_filed_under_another_task_is_never_the_answer(agent):
    text = "please refund the invoice payment"
    decoy = {"input": text, "output": "COOKING DECOY", "rating": 1.0}
    memory = {
        "billing": [{"input": "card balance statement", "output": "BILLING", "rating": 0.8}],
        "cooking": [decoy],
    }
    response = LearnedAgent("ft-x", agent.router, memory).respond(text)
    assert response.task_type == "billing"
    assert response.text == "BILLING"


def most_similar_output(rows: list[dict], text: str) -> str:
    """Brute force: the output of the row whose input's features are closest to text's."""
    features = featurize([text] + [row["input"] for row in rows])
    sims = (features[1:] @ features[0].T).toarray().ravel()
    return rows[int(np.argmax(sims))]["output"]


def test_each_answer_is_the_most_similar_row_of_the_routed_task(agent):
    assert list(agent.memory) == CLASSES  # so most tasks' rows sit after another task's
    texts = [e["input"] for e in HELD_OUT]
    for text, response in zip(texts, agent.respond_many(texts), strict=True):
        assert response.text == most_similar_output(agent.memory[response.task_type], text)


def test_the_answer_is_the_routed_tasks_most_similar_memory_input(agent):
    memory = {
        "cooking": [
            {"input": f"bake {i} with garlic", "output": f"COOK {i}", "rating": 0.9}
            for i in range(5)
        ],
        "billing": [
            {"input": "send me the invoice receipt", "output": "INVOICE", "rating": 0.95},
            {"input": "cancel my subscription", "output": "SUBSCRIPTION", "rating": 0.9},
            {"input": "where is my refund", "output": "REFUND", "rating": 0.85},
        ],
    }
    probe = LearnedAgent("ft-sim", agent.router, memory)
    assert probe.respond("I am still waiting for my refund").text == "REFUND"
    assert probe.respond("please cancel the subscription").text == "SUBSCRIPTION"
    assert probe.respond("a copy of the invoice receipt").text == "INVOICE"


def test_without_any_similar_input_the_best_rated_row_answers(agent):
    memory = {
        "billing": [
            {"input": "zzz", "output": "HIGH", "rating": 0.99},  # best first, as built
            {"input": "qqq", "output": "LOW", "rating": 0.8},
        ]
    }
    features = featurize(["zzz", "qqq", "refund invoice"])
    assert not (features[:2] @ features[2].T).nnz  # no shared n-gram (nor hash collision)
    assert LearnedAgent("ft-tie", agent.router, memory).respond("refund invoice").text == "HIGH"


def test_a_routed_task_without_memory_gets_the_fallback_answer(agent):
    probe = LearnedAgent("ft-empty", agent.router, {"billing": []})
    for text, task in (("refund my invoice", "billing"), ("bake with garlic", "cooking")):
        response = probe.respond(text)
        assert response.task_type == task
        assert response.text == FALLBACK_ANSWER
        assert "no rated answer" in response.reasoning


def test_confidence_is_the_router_probability_of_the_chosen_task(agent):
    text = "is there a refund for the invoice"
    proba = agent.router.proba(featurize([text]))[0]
    response = agent.respond(text)
    assert response.confidence == round(float(proba.max()), 4)
    assert response.task_type == CLASSES[int(proba.argmax())]


def test_respond_many_equals_respond_one_by_one(agent):
    texts = [e["input"] for e in HELD_OUT[:15]] + ["", "???"]
    assert agent.respond_many(texts) == [agent.respond(t) for t in texts]
    assert agent.respond_many([]) == []


def test_describe_lists_the_format_the_router_classes_and_no_abstention(agent):
    assert agent.describe() == {
        "format": "tuneloop.softmax/1",
        "task_types": CLASSES,
        "out_of_scope": None,
    }


# --- the saved payload ------------------------------------------------------------------------


def test_saved_payload_is_an_npz_numpy_loads_without_pickle(agent):
    payload = agent.save()
    assert isinstance(payload, bytes)
    with np.load(io.BytesIO(payload), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    nonzero = np.flatnonzero(np.any(agent.router.weights != 0, axis=1))
    assert 0 < len(nonzero) < N_FEATURES
    assert np.array_equal(arrays["weight_rows"], nonzero)
    assert arrays["weights"].dtype == np.float16
    assert arrays["weights"].shape == (len(nonzero), len(CLASSES))
    np.testing.assert_allclose(
        arrays["weights"], agent.router.weights[nonzero], rtol=1e-3, atol=1e-7
    )
    assert np.array_equal(arrays["bias"], agent.router.bias)
    _, header = npz.load(payload)
    assert header["format"] == LearnedAgent.format
    assert header["model_id"] == "ft-test"
    assert header["classes"] == CLASSES
    assert header["memory"] == agent.memory


def test_a_loaded_agent_gives_the_same_task_types_and_answers(agent):
    loaded = LearnedAgent.load("ft-copy", agent.save())
    assert loaded.model_id == "ft-copy"
    assert loaded.describe() == agent.describe()
    texts = [e["input"] for e in HELD_OUT]
    before, after = agent.respond_many(texts), loaded.respond_many(texts)
    assert [(r.task_type, r.text) for r in after] == [(r.task_type, r.text) for r in before]
    for a, b in zip(after, before, strict=True):
        assert a.confidence == pytest.approx(b.confidence, abs=0.01)


def test_saving_a_loaded_agent_gives_the_same_bytes(agent):
    once = LearnedAgent.load("ft-test", agent.save()).save()
    twice = LearnedAgent.load("ft-test", once).save()
    assert once == twice
    assert np.array_equal(
        LearnedAgent.load("ft-test", once).router.weights,
        LearnedAgent.load("ft-test", twice).router.weights,
    )


def test_load_rejects_a_payload_of_another_format(agent):
    arrays, header = npz.load(agent.save())
    payload = npz.dump(arrays, {**header, "format": "tuneloop.keyword/1"})
    with pytest.raises(ValueError, match="unknown model format"):
        LearnedAgent.load("ft-x", payload)


def test_save_keeps_every_row_with_any_non_zero_weight():
    weights = np.zeros((N_FEATURES, 3), dtype=np.float32)
    weights[5] = [0.0, 1.5, 0.0]
    weights[7] = [-2.0, 0.0, 0.0]
    weights[N_FEATURES - 1] = [0.0, 0.0, 0.125]
    router = Softmax(["a", "b", "c"], weights, np.zeros(3, dtype=np.float32))
    payload = LearnedAgent("ft-rows", router, {}).save()
    arrays, _ = npz.load(payload)
    assert list(arrays["weight_rows"]) == [5, 7, N_FEATURES - 1]
    assert np.array_equal(LearnedAgent.load("ft-rows", payload).router.weights, weights)


def test_a_router_with_no_trained_rows_saves_and_loads(agent):
    router = Softmax(
        ["a", "b"],
        np.zeros((N_FEATURES, 2), dtype=np.float32),
        np.array([0.5, -0.5], dtype=np.float32),
    )
    loaded = LearnedAgent.load("ft-0", LearnedAgent("ft-0", router, {}).save())
    assert not np.any(loaded.router.weights)
    assert np.array_equal(loaded.router.bias, router.bias)
    response = loaded.respond("anything")
    assert (response.task_type, response.text) == ("a", FALLBACK_ANSWER)


# --- out-of-scope abstention -----------------------------------------------------------------


def top_of(agent: LearnedAgent, text: str) -> tuple[str, float]:
    """Return the router's top task for text and its probability, as respond_many sees it."""
    proba = agent.router.proba(featurize([text]))[0]
    return CLASSES[int(proba.argmax())], float(proba.max())


def abstaining(agent: LearnedAgent, task: str, threshold: float) -> LearnedAgent:
    return LearnedAgent("ft-oos", agent.router, agent.memory, task, threshold)


def test_under_the_threshold_the_agent_abstains_as_the_out_of_scope_task(agent):
    text = HELD_OUT[0]["input"]
    routed, p = top_of(agent, text)
    oos = next(c for c in CLASSES if c != routed)
    response = abstaining(agent, oos, float(np.nextafter(p, 1.0))).respond(text)
    assert (response.task_type, response.text) == (oos, FALLBACK_ANSWER)
    assert response.confidence == round(1.0 - p, 4)
    assert "abstained" in response.reasoning
    assert f"'{routed}' had p={p:.2f}" in response.reasoning


def test_at_or_above_the_threshold_the_agent_answers_as_usual(agent):
    text = HELD_OUT[0]["input"]
    routed, p = top_of(agent, text)
    oos = next(c for c in CLASSES if c != routed)
    for threshold in (p, float(np.nextafter(p, 0.0)), 0.0):
        assert abstaining(agent, oos, threshold).respond(text) == agent.respond(text)


def test_when_the_top_task_is_the_out_of_scope_task_the_agent_answers_as_usual(agent):
    text = HELD_OUT[0]["input"]
    routed, _ = top_of(agent, text)
    assert abstaining(agent, routed, 1.0).respond(text) == agent.respond(text)


def test_a_batch_abstains_exactly_on_its_inputs_under_the_threshold(agent):
    texts = [e["input"] for e in HELD_OUT]
    tops = [top_of(agent, t) for t in texts]
    threshold = float(np.median([p for _, p in tops]))
    probe = abstaining(agent, "legal.contracts", threshold)
    responses = probe.respond_many(texts)
    assert responses == [probe.respond(t) for t in texts]
    abstained = [r.text == FALLBACK_ANSWER for r in responses]
    expected = [p < threshold and task != "legal.contracts" for task, p in tops]
    assert abstained == expected
    assert 0 < sum(expected) < len(texts)
    usual = agent.respond_many(texts)
    assert [r for r, a in zip(responses, abstained, strict=True) if not a] == [
        r for r, a in zip(usual, abstained, strict=True) if not a
    ]


def test_routes_are_the_top_task_and_probability_before_abstaining(agent):
    texts = [e["input"] for e in HELD_OUT]
    tops, routed = abstaining(agent, "legal.contracts", 0.99).route_many(texts)
    assert list(zip(routed, tops.tolist(), strict=True)) == [top_of(agent, t) for t in texts]
    assert tops.dtype == np.float64  # compared with a threshold as respond_many compares it
    empty, none = agent.route_many([])
    assert (len(empty), none) == (0, [])


def test_describe_says_the_out_of_scope_task_and_threshold(agent):
    assert abstaining(agent, "billing", 0.375).describe()["out_of_scope"] == {
        "task": "billing",
        "threshold": 0.375,
    }


def test_save_and_load_keep_the_out_of_scope_task_and_threshold(agent):
    saved = abstaining(agent, "cooking", 0.6180339887).save()
    _, header = npz.load(saved)
    assert (header["abstain_task"], header["abstain_threshold"]) == ("cooking", 0.6180339887)
    loaded = LearnedAgent.load("ft-oos", saved)
    assert (loaded.abstain_task, loaded.abstain_threshold) == ("cooking", 0.6180339887)
    assert LearnedAgent.load("ft-oos", loaded.save()).save() == saved


def test_a_model_saved_before_abstention_existed_loads_without_it(agent):
    arrays, header = npz.load(abstaining(agent, "cooking", 0.9).save())
    del header["abstain_task"], header["abstain_threshold"]
    old = LearnedAgent.load("ft-old", npz.dump(arrays, header))
    assert (old.abstain_task, old.abstain_threshold) == (None, None)
    assert old.describe()["out_of_scope"] is None
    texts = [e["input"] for e in HELD_OUT[:20]]
    assert [r.text for r in old.respond_many(texts)] == [r.text for r in agent.respond_many(texts)]


# --- the memory builder -----------------------------------------------------------------------

STEMS = ["where is my refund", "bake bread", "book a flight", "rain today", "hello", "x"]


def variant(rng: random.Random, stem: str) -> str:
    """Return stem with random case and spacing: the same normalized input."""
    text = "".join(c.upper() if rng.random() < 0.3 else c for c in stem)
    return (" " * rng.randint(0, 2)) + text.replace(" ", " " * rng.randint(1, 3))


def random_examples(seed: int, n: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        stem = f"{rng.choice(STEMS)} {rng.randint(0, 40)}"
        rows.append(
            {
                "input": variant(rng, stem),
                "output": f"answer {rng.randint(0, 3)}",
                "rating": rng.choice([0.7, 0.8, 0.85, 0.9, 1.0]),  # many ties
                "task_type": rng.choice(["billing", "cooking", "travel"]),
                "source": "human",
            }
        )
    return rows


def rank(row: dict) -> tuple:
    return (-row["rating"], row["input"], row["output"])


def reference_memory(rows: list[dict], per_task: int) -> dict[str, list[dict]]:
    """Brute force: the best row per distinct normalized input, top per_task of each task."""
    best: dict[tuple[str, str], dict] = {}
    for ex in rows:
        row = {"input": ex["input"], "output": ex["output"], "rating": ex["rating"]}
        key = (ex["task_type"], normalize(ex["input"]))
        if key not in best or rank(row) < rank(best[key]):
            best[key] = row
    by_task: dict[str, list[dict]] = {}
    for (task, _), row in best.items():
        by_task.setdefault(task, []).append(row)
    return {task: sorted(rows, key=rank)[:per_task] for task, rows in sorted(by_task.items())}


def fed_in_random_batches(rows: list[dict], per_task: int, seed: int) -> MemoryBuilder:
    rng = random.Random(seed)
    builder, start = MemoryBuilder(per_task), 0
    while start < len(rows):
        size = rng.randint(1, 60)
        builder.feed(rows[start : start + size])
        start += size
    return builder


@pytest.mark.parametrize("per_task", [1, 3, 10, 200])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_memory_equals_a_brute_force_reference_in_random_batches(per_task, seed):
    rows = random_examples(seed, 1500)
    distinct = Counter((e["task_type"], normalize(e["input"])) for e in rows)
    assert Counter(task for task, _ in distinct).most_common()[-1][1] > 2 * min(per_task, 10)
    assert fed_in_random_batches(rows, per_task, seed).build() == reference_memory(rows, per_task)


def test_memory_never_holds_more_than_twice_per_task_candidates_per_task():
    builder, sizes = MemoryBuilder(per_task=4), []

    def watched(rows):
        for row in rows:
            yield row
            sizes.append(max(len(pool) for pool in builder._candidates.values()))

    rows = random_examples(3, 1000)
    builder.feed(watched(rows[:600]))
    builder.feed(watched(rows[600:]))
    assert max(sizes) == 8  # it fills up to the bound, and never past it
    assert builder.build() == reference_memory(rows, 4)


def test_memory_keeps_the_best_rated_variant_of_a_repeated_input():
    builder = MemoryBuilder()
    builder.feed(
        [
            {"input": "Where is my refund?", "output": "worse", "rating": 0.81, "task_type": "b"},
            {"input": "where is  my REFUND?", "output": "best", "rating": 0.99, "task_type": "b"},
        ]
    )
    builder.feed(
        [{"input": " where is my refund?", "output": "middle", "rating": 0.9, "task_type": "b"}]
    )
    assert builder.build() == {
        "b": [{"input": "where is  my REFUND?", "output": "best", "rating": 0.99}]
    }


def test_memory_is_independent_of_example_order():
    rows = random_examples(4, 800)
    shuffled = rows[:]
    random.Random(0).shuffle(shuffled)
    first, second = fed_in_random_batches(rows, 5, 0), fed_in_random_batches(shuffled, 5, 1)
    assert first.build() == second.build()


def test_memory_default_is_64_rows_per_task_and_tasks_are_sorted():
    assert MEMORY_PER_TASK == 64
    builder = MemoryBuilder()
    builder.feed(
        {"input": f"q {i}", "output": "a", "rating": 0.9, "task_type": task}
        for task in ("zeta", "alpha")
        for i in range(100)
    )
    memory = builder.build()
    assert list(memory) == ["alpha", "zeta"]
    assert [len(rows) for rows in memory.values()] == [64, 64]


def test_the_memory_of_every_task_is_featurized_in_one_pass_with_the_same_rows(monkeypatch):
    from tuneloop.agent import features

    memory = {
        task: [{"input": f"{task} question {i}", "output": f"{task} {i}"} for i in range(3)]
        for task in ("billing", "hiking", "weather")
    }
    router = Softmax(list(memory), np.zeros((N_FEATURES, 3), np.float32), np.zeros(3, np.float32))
    real, calls = features._counts, []
    monkeypatch.setattr(features, "_counts", lambda texts: calls.append(texts) or real(texts))
    agent = LearnedAgent("m", router, memory)
    assert len(calls) == 1
    inputs = [r["input"] for rows in memory.values() for r in rows]
    expected = featurize(inputs)
    got = agent._bank.span(0, len(inputs))
    assert (got != expected).nnz == 0
    assert agent._offsets == {"billing": 0, "hiking": 3, "weather": 6}
