"""The agent registry: every model format resolves to its agent class, loaded lazily."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tuneloop.agent import registry
from tuneloop.agent.baseline import KeywordAgent
from tuneloop.agent.features import N_FEATURES
from tuneloop.agent.learned import LearnedAgent
from tuneloop.agent.softmax import Softmax
from tuneloop.contracts import BASELINE_MODEL_ID


@pytest.mark.parametrize("fmt", sorted(registry.FORMATS))
def test_every_format_resolves_to_a_class_of_that_format(fmt):
    cls = registry.agent_class(fmt)
    assert cls.format == fmt
    for method in ("respond_many", "describe", "save", "load"):
        assert callable(getattr(cls, method)), method


def test_the_known_formats_are_the_keyword_and_softmax_agents():
    assert registry.agent_class("tuneloop.keyword/1") is KeywordAgent
    assert registry.agent_class("tuneloop.softmax/1") is LearnedAgent


@pytest.mark.parametrize("fmt", ["tuneloop.softmax/0", "", "tuneloop.sgd/1"])
def test_an_unknown_format_raises_key_error(fmt):
    with pytest.raises(KeyError):
        registry.agent_class(fmt)
    with pytest.raises(KeyError):
        registry.load(fmt, "m", b"")


def test_every_builtin_model_has_a_registered_format():
    assert set(registry.BUILTIN.values()) <= set(registry.FORMATS)


def test_the_baseline_id_gives_the_keyword_agent():
    agent = registry.builtin(BASELINE_MODEL_ID)
    assert isinstance(agent, KeywordAgent)
    assert agent.model_id == BASELINE_MODEL_ID
    assert agent.describe()["format"] == "tuneloop.keyword/1"
    assert agent.respond_many(["Will it rain tomorrow?"])[0].task_type == "weather"


def test_an_id_that_is_not_builtin_gives_none():
    assert registry.builtin("ft-0123") is None


def test_load_rebuilds_each_agent_from_what_it_saved():
    keyword = registry.builtin(BASELINE_MODEL_ID)
    assert isinstance(registry.load(keyword.format, "kw-copy", keyword.save()), KeywordAgent)

    weights = np.zeros((N_FEATURES, 2), dtype=np.float32)
    router = Softmax(["a", "b"], weights, np.array([0.0, 1.0], dtype=np.float32))
    memory = {"b": [{"input": "hi", "output": "hello", "rating": 0.9}]}
    learned = LearnedAgent("ft-1", router, memory)
    loaded = registry.load(learned.format, "ft-1", learned.save())
    assert isinstance(loaded, LearnedAgent)
    assert loaded.describe() == learned.describe()
    assert loaded.respond_many(["hi"]) == learned.respond_many(["hi"])


def test_importing_the_registry_alone_loads_no_numpy_scipy_or_sklearn():
    probe = (
        "import json, sys\n"
        "import tuneloop.agent.registry\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "tuneloop" in loaded
    assert not {"numpy", "scipy", "sklearn"} & loaded


def test_a_registered_kind_is_found_by_its_format_and_its_base_model(monkeypatch):
    for table in ("FORMATS", "TRAINERS", "EVALUATORS", "BASE_MODELS", "BUILTIN"):
        monkeypatch.setattr(registry, table, dict(getattr(registry, table)))
    registry.register(
        "tests.echo/1",
        "tuneloop.agent.baseline:KeywordAgent",
        trainer="tuneloop.trainers.softmax:train",
        base_models=("echo-base",),
    )
    from tuneloop.trainers import softmax

    assert registry.trained_format("echo-base") == "tests.echo/1"
    assert registry.trainer("tests.echo/1") is softmax.train
    assert registry.evaluator("tests.echo/1") is registry.evaluator("tuneloop.softmax/1")
    assert registry.trained_format(BASELINE_MODEL_ID) == "tuneloop.softmax/1"
    with pytest.raises(KeyError):
        registry.trained_format("no-such-base")
