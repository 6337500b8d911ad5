"""The operator's base language models: read from the environment, registered as a kind."""

import pytest

from tuneloop.agent import registry
from tuneloop.llm import kind
from tuneloop.llm.spec import FORMAT, BaseModelsError
from tuneloop.settings import Settings


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry's and kind's tables, restored after the test."""
    for table in ("FORMATS", "TRAINERS", "BUILTIN", "BASE_MODELS"):
        monkeypatch.setattr(registry, table, dict(getattr(registry, table)))
    monkeypatch.setattr(kind, "LOCATIONS", {})


def test_base_models_are_read_from_the_environment() -> None:
    settings = Settings.from_env({"TUNELOOP_BASE_MODELS": "tiny=/m/tiny, big=org/big"})
    assert settings.base_model_locations == {"tiny": "/m/tiny", "big": "org/big"}
    assert Settings.from_env({}).base_model_locations == {}


def test_a_bad_base_model_list_fails_start_up_with_its_reason() -> None:
    with pytest.raises(BaseModelsError, match="is not name=location"):
        Settings.from_env({"TUNELOOP_BASE_MODELS": "tiny"})


def test_registering_base_models_makes_them_built_in_bases_of_the_lora_format(
    clean_registry: None,
) -> None:
    kind.register_base_models({"tiny": "/m/tiny"})
    assert registry.BASE_MODELS["tiny"] == registry.BUILTIN["tiny"] == FORMAT
    assert registry.FORMATS[FORMAT] == "tuneloop.llm.agent:LoraAgent"
    assert registry.TRAINERS[FORMAT] == "tuneloop.llm.stage:train"
    assert kind.LOCATIONS == {"tiny": "/m/tiny"}


def test_the_gateway_refuses_to_start_with_a_bad_base_model_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tuneloop_gateway.app import create_app

    monkeypatch.setenv("TUNELOOP_API_KEY", "k" * 32)
    monkeypatch.setenv("TUNELOOP_BASE_MODELS", "a=x,a=y")
    with pytest.raises(BaseModelsError, match="twice"):
        create_app()
