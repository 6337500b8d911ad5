"""compose_check.py's overall timeout: it cuts the running step, cleans up, and says where."""

import importlib.util
import signal
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import ClassVar

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def check() -> ModuleType:
    """compose_check loaded afresh (its step lists start empty)."""
    path = REPO / "tests" / "compose" / "compose_check.py"
    spec = importlib.util.spec_from_file_location("compose_check_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("engine", None)


class FakeEngine:
    """An engine whose ensure() starts a "dockerd" (or hangs, when told to)."""

    def __init__(self, hang: bool = False) -> None:
        self.started: object | None = None
        self.hang, self.stopped = hang, False

    def ensure(self) -> None:
        self.started = "dockerd"
        if self.hang:
            time.sleep(60)

    def stop(self) -> None:
        self.stopped, self.started = True, None


class FakeCompose:
    """Records each docker-compose call instead of running it."""

    calls: ClassVar[list[tuple[str, ...]]] = []

    def __init__(self, env: dict[str, str]) -> None:
        FakeCompose.calls = []

    def __call__(self, *args: str, **_: object) -> str:
        FakeCompose.calls.append(args)
        return ""


def fake_stack(
    check: ModuleType, monkeypatch: pytest.MonkeyPatch, engine: FakeEngine, timeout: str
) -> None:
    """Put fakes where compose_check would reach Docker; set the overall timeout."""
    monkeypatch.setattr(check, "Engine", lambda: engine)
    monkeypatch.setattr(check, "images", lambda: {})
    monkeypatch.setattr(check, "copy_build_ca", lambda: [])
    monkeypatch.setattr(check, "Compose", FakeCompose)
    monkeypatch.setenv(check.TIMEOUT_SETTING, timeout)


def test_the_timeout_cuts_a_hanging_step_then_brings_the_stack_down_and_stops_dockerd(
    check: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = FakeEngine()
    fake_stack(check, monkeypatch, engine, "0.5")

    def scenario(*_: object) -> None:
        with check.step("three jobs at once"):
            time.sleep(60)  # a job that never ends

    monkeypatch.setattr(check, "scenario", scenario)
    began = time.monotonic()
    assert check.main([]) == 1
    assert time.monotonic() - began < 30  # cut, not slept through
    assert ("down", "-v", "--remove-orphans") in FakeCompose.calls
    assert engine.stopped
    err = capsys.readouterr().err
    assert (
        "COMPOSE TEST FAILED: overall timeout of 0.5s (COMPOSE_TEST_TIMEOUT) reached during: "
        "three jobs at once"
    ) in err, err


def test_the_timeout_also_covers_starting_the_engine(
    check: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = FakeEngine(hang=True)
    fake_stack(check, monkeypatch, engine, "0.5")
    assert check.main([]) == 1
    assert engine.stopped  # the dockerd it started is stopped
    assert "reached during: Docker engine" in capsys.readouterr().err


def test_a_run_within_the_timeout_restores_the_alarm_it_found(
    check: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_stack(check, monkeypatch, FakeEngine(), "30")
    monkeypatch.setattr(check, "scenario", lambda *_: None)
    handler = signal.getsignal(signal.SIGALRM)
    outer, _ = signal.getitimer(signal.ITIMER_REAL)  # pytest-timeout's, if any
    assert check.main([]) == 0
    assert signal.getsignal(signal.SIGALRM) is handler
    left, _ = signal.getitimer(signal.ITIMER_REAL)
    assert (left > 0) == (outer > 0) and left <= outer  # its own 30 s are not left armed


@pytest.mark.parametrize(("raw", "seconds"), [("", 1500.0), ("90", 90.0), (" 2.5 ", 2.5)])
def test_the_timeout_is_25_minutes_unless_set(check: ModuleType, raw: str, seconds: float) -> None:
    assert check.overall_timeout({check.TIMEOUT_SETTING: raw}) == seconds
    assert check.overall_timeout({}) == 1500.0


@pytest.mark.parametrize("raw", ["0", "-5", "abc", "inf", "nan"])
def test_a_bad_timeout_setting_is_refused_by_name(
    check: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], raw: str
) -> None:
    monkeypatch.setenv(check.TIMEOUT_SETTING, raw)
    assert check.main([]) == 2
    assert f"COMPOSE_TEST_TIMEOUT must be a positive number of seconds, not {raw!r}" in (
        capsys.readouterr().err
    )
