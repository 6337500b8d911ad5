"""Tiny models load offline: a local directory with sockets blocked, a missing hub id fails fast."""

import time

import pytest
from llm_fixtures import block_network, prompt

from tuneloop.llm import models, scoring
from tuneloop.llm.tiny import ROLE_MARKERS


@pytest.fixture
def no_network(monkeypatch):
    """Block sockets for one test; return the connection attempts."""
    return block_network(monkeypatch)


def test_local_directory_loads_with_sockets_blocked(tiny_model, no_network):
    model, tok = models.load_base(tiny_model)
    assert scoring.greedy(model, tok, prompt("Where is Paris?"), 3) is not None
    assert no_network == []


def test_missing_hub_id_fails_fast_naming_it(no_network, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty hub cache
    started = time.monotonic()
    with pytest.raises(models.ModelUnavailableError, match="acme-labs/never-downloaded"):
        models.load_base("acme-labs/never-downloaded")
    assert time.monotonic() - started < 10
    assert no_network == []


def test_missing_local_directory_is_named(tmp_path):
    with pytest.raises(models.ModelUnavailableError, match="no such directory"):
        models.load_base(str(tmp_path / "absent"))


def test_chat_template_ends_the_prompt_where_the_answer_starts(tiny_model):
    _, tok = models.load_base(tiny_model)
    rendered = tok.apply_chat_template(prompt("hi"), add_generation_prompt=True, tokenize=False)
    assert rendered == "<|bos|><|user|>\nhi<|eos|><|assistant|>\n"
    assert set(ROLE_MARKERS) <= set(tok.all_special_tokens)
    prompt_ids, answer_ids = scoring.answer_split(tok, prompt("hi"), "Bees make honey.")
    assert tok.decode(answer_ids) == "Bees make honey.<|eos|>"
    assert prompt_ids == scoring.prompt_ids(tok, prompt("hi"))
