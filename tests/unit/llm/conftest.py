"""Tiny chat models built at test time: random weights, a tokenizer trained on the test texts."""

import importlib.util

import pytest
from llm_fixtures import block_network, hp, sft_rows, texts

from tuneloop.llm import tiny

# Without the llm extra (torch, transformers, peft, trl) these tests are not collected.
if not all(importlib.util.find_spec(name) for name in ("torch", "trl", "peft")):
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    """Return the directory of a tiny random-weight chat model built for this session."""
    return str(tiny.build(tmp_path_factory.mktemp("tiny") / "model", texts(), hidden=64, layers=2))


@pytest.fixture(scope="session")
def sft_adapter(tiny_model, tmp_path_factory) -> str:
    """Return an adapter that memorised QA on tiny_model, trained with sockets blocked."""
    from tuneloop.llm import training

    params = hp(n_epochs=8, batch_size=2, learning_rate=2e-2)
    with pytest.MonkeyPatch.context() as monkeypatch:
        attempts = block_network(monkeypatch)
        result = training.train(
            "supervised", tiny_model, sft_rows(), [], params, tmp_path_factory.mktemp("sft")
        )
    assert attempts == []
    return str(result.adapter_dir)
