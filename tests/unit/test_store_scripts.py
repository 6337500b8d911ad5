"""The store's Lua scripts take every key through KEYS and every status from contracts."""

import re
from pathlib import Path

import pytest

from tuneloop import contracts
from tuneloop.store import lua

STORE = Path(lua.__file__).parent
# A script is a string that calls redis.call; its key is the first argument after the command.
KEY_ARGUMENT = re.compile(r"redis\.call\('\w+',\s*([^,)]*)")


def _scripts() -> list[tuple[str, str]]:
    found = []
    for path in sorted(STORE.glob("*.py")):
        module = {}
        exec(compile(path.read_text(), str(path), "exec"), module)
        found += [
            (f"{path.name}:{name}", value)
            for name, value in module.items()
            if isinstance(value, str) and "redis.call(" in value
        ]
    return found


SCRIPTS = _scripts()


def test_the_store_has_scripts_to_check() -> None:
    assert len(SCRIPTS) >= 10, [name for name, _ in SCRIPTS]


@pytest.mark.parametrize(("name", "script"), SCRIPTS, ids=[n for n, _ in SCRIPTS])
def test_no_script_builds_a_key_name(name: str, script: str) -> None:
    built = [key for key in KEY_ARGUMENT.findall(script) if ".." in key]
    assert built == [], f"{name} builds key names in Lua: {built}"
    assert "tuneloop:" not in script, name


@pytest.mark.parametrize("path", sorted(STORE.glob("*.py")), ids=lambda p: p.name)
def test_no_store_module_spells_a_status(path: Path) -> None:
    source = path.read_text()
    spelled = [s for s in contracts.STATUSES if f"'{s}'" in source or f'"{s}"' in source]
    assert spelled == [], f"{path.name} spells {spelled}: use tuneloop.contracts"
