"""One place constructs a Celery app: tuneloop.celery_factory; every service calls it."""

import ast
from pathlib import Path

from tuneloop import celery_factory
from tuneloop.celery_config import celery_config
from tuneloop.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
FACTORY = ROOT / "shared" / "tuneloop" / "celery_factory.py"


def celery_constructions(path: Path) -> list[int]:
    """Return the lines of path that call Celery(...) under any name it was imported as."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = {"Celery"} | {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "celery"
        for alias in node.names
        if alias.name == "Celery" and alias.asname
    }
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id in names)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == "Celery")
        )
    ]


def test_no_module_of_the_services_or_shared_constructs_celery_but_the_factory() -> None:
    sources = [*(ROOT / "services").rglob("*.py"), *(ROOT / "shared").rglob("*.py")]
    found = {
        str(path.relative_to(ROOT)): lines
        for path in sources
        if path != FACTORY and (lines := celery_constructions(path))
    }
    assert found == {}
    assert celery_constructions(FACTORY), "the factory itself builds the app"


def test_the_factory_applies_the_shared_config_then_the_callers_overrides() -> None:
    settings = Settings(redis_url="redis://example.invalid:6379/3")
    app = celery_factory.create(settings, "probe", worker_prefetch_multiplier=4)
    expected = {**celery_config(settings), "worker_prefetch_multiplier": 4}
    assert app.main == "probe"
    assert {key: app.conf[key] for key in expected} == expected
