"""Streamed chat answers: stop strings, max_tokens, seeds, usage counted by the tokenizer."""

import pytest
from llm_fixtures import QA, prompt

from tuneloop.llm import generation, models, scoring

QUESTION, ANSWER = QA[3]  # "Where is Paris?" -> "Paris is in France."


@pytest.fixture(scope="module")
def generator() -> generation.Generator:
    return generation.Generator(cache_size=2)


def run(generator, base, adapter, **kwargs) -> tuple[list[str], generation.Stream]:
    options = {"max_tokens": 30, "temperature": 0.0, "top_p": 1.0, "stop": [], "seed": None}
    stream = generator.stream(base, adapter, prompt(QUESTION), **(options | kwargs))
    return list(stream), stream


def test_greedy_stream_gives_the_trained_answer_and_real_usage(generator, tiny_model, sft_adapter):
    pieces, stream = run(generator, tiny_model, sft_adapter)
    text = "".join(pieces)
    assert text == ANSWER
    assert len(pieces) > 1
    assert stream.finish_reason == "stop"
    _, tok = models.load_base(tiny_model)
    assert stream.usage == {
        "prompt_tokens": len(scoring.prompt_ids(tok, prompt(QUESTION))),
        "completion_tokens": len(tok(text, add_special_tokens=False)["input_ids"]),
    }


def test_stop_string_ends_the_answer_before_it(generator, tiny_model, sft_adapter):
    pieces, stream = run(generator, tiny_model, sft_adapter, stop=[" in Fr", "zzz"])
    assert "".join(pieces) == "Paris is"
    assert stream.finish_reason == "stop"


def test_max_tokens_cuts_the_answer(generator, tiny_model, sft_adapter):
    pieces, stream = run(generator, tiny_model, sft_adapter, max_tokens=2)
    text = "".join(pieces)
    assert stream.usage["completion_tokens"] == 2
    assert ANSWER.startswith(text) and text != ANSWER
    assert stream.finish_reason == "length"


def test_same_seed_same_sample_other_seed_other_sample(generator, tiny_model):
    def sample(seed):
        return "".join(run(generator, tiny_model, None, temperature=1.5, seed=seed)[0])

    first = sample(7)
    assert sample(7) == first
    assert len({sample(seed) for seed in range(8, 12)} | {first}) > 1


def test_lru_keeps_the_most_recent_models(tiny_model, sft_adapter):
    generator = generation.Generator(cache_size=1)
    run(generator, tiny_model, None)
    run(generator, tiny_model, sft_adapter)
    assert generator.cached() == [(tiny_model, sft_adapter)]
