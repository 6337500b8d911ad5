"""CI: `.ci/run` runs make with CI=true; under CI a missing Chromium fails the browser tests."""

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_ci_run_runs_lint_test_and_compose_test_with_ci_set(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "make"  # records each call instead of running it
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "CI=$CI $*" >> "$MAKE_CALLS"\n')
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(PATH=f"{fake.parent}{os.pathsep}{env['PATH']}", MAKE_CALLS=str(tmp_path / "calls"))
    subprocess.run([str(REPO / ".ci" / "run")], env=env, check=True, timeout=60)
    assert (tmp_path / "calls").read_text().splitlines() == [
        "CI=true lint",
        "CI=true test",
        "CI=true compose-test COMPOSE_TEST_ARGS=--if-engine",
    ]


def browser_support() -> ModuleType:
    """Load tests/integration/support/browser.py on its own (it imports nothing of the suite)."""
    path = REPO / "tests" / "integration" / "support" / "browser.py"
    spec = importlib.util.spec_from_file_location("browser_support", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("ci", "outcome"),
    [
        ("true", pytest.fail.Exception),
        ("1", pytest.fail.Exception),
        (None, pytest.skip.Exception),
        ("", pytest.skip.Exception),
        ("false", pytest.skip.Exception),
    ],
)
def test_a_missing_chromium_fails_the_browser_tests_under_ci_and_skips_them_elsewhere(
    monkeypatch: pytest.MonkeyPatch, ci: str | None, outcome: type[BaseException]
) -> None:
    browser = browser_support()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="chromium and chromedriver not on PATH"):
        browser._binaries()


def test_make_test_installs_chromium_and_its_driver_first() -> None:
    makefile = (REPO / "Makefile").read_text()
    recipe = makefile.split("\ntest: ", 1)[1].split("\n\n", 1)[0].splitlines()
    bootstrap = next(line for line in recipe if "$(BOOTSTRAP)" in line)
    assert {"chromium", "chromium-driver"} <= set(bootstrap.split())
    assert recipe.index(bootstrap) < next(i for i, ln in enumerate(recipe) if "pytest" in ln)
