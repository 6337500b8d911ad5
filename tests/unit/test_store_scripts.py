"""The store's Lua scripts live in .lua files, take every key through KEYS and every status
from contracts, and every file is some loaded script or a fragment one includes."""

import importlib
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tuneloop import contracts
from tuneloop.store import scripts

ROOT = Path(__file__).resolve().parents[2]
STORE = Path(scripts.__file__).parent
LUA = sorted(STORE.joinpath("lua").rglob("*.lua"))
# A script is a string that calls redis.call; its key is the first argument after the command.
KEY_ARGUMENT = re.compile(r"redis\.call\('\w+',\s*([^,)]*)")
LOADED = re.compile(r"scripts\.source\(\s*\"(\w+)\"")
CALL = "redis.call" + "("  # spelled in two parts so this file does not contain it


def _python_files() -> list[Path]:
    """Every .py file of the project (not in hidden folders such as .venv or .git)."""
    return [p for p in ROOT.rglob("*.py") if not any(part.startswith(".") for part in p.parts)]


def _loaded_scripts() -> list[tuple[str, str]]:
    """Every script as a store module loaded it (fragments included, constants written in)."""
    found = []
    for info in pkgutil.iter_modules([str(STORE)]):
        module = importlib.import_module(f"tuneloop.store.{info.name}")
        found += [
            (f"{info.name}.{name}", value)
            for name, value in vars(module).items()
            if isinstance(value, str) and CALL in value
        ]
    return found


SCRIPTS = _loaded_scripts()


def test_the_store_has_scripts_to_check() -> None:
    assert len(SCRIPTS) >= len(scripts.script_names()), [name for name, _ in SCRIPTS]


@pytest.mark.parametrize(("name", "script"), SCRIPTS, ids=[n for n, _ in SCRIPTS])
def test_no_script_builds_a_key_name(name: str, script: str) -> None:
    built = [key for key in KEY_ARGUMENT.findall(script) if ".." in key]
    assert built == [], f"{name} builds key names in Lua: {built}"
    assert "tuneloop:" not in script, name


@pytest.mark.parametrize(
    "path", [*sorted(STORE.glob("*.py")), *LUA], ids=lambda p: p.relative_to(STORE).as_posix()
)
def test_no_store_module_spells_a_status(path: Path) -> None:
    source = path.read_text()
    spelled = [s for s in contracts.STATUSES if f"'{s}'" in source or f'"{s}"' in source]
    assert spelled == [], f"{path.name} spells {spelled}: use tuneloop.contracts"


def test_no_python_file_calls_redis_from_lua() -> None:
    calling = [p.relative_to(ROOT).as_posix() for p in _python_files() if CALL in p.read_text()]
    assert calling == [], f"Lua in Python strings: move it to {STORE.name}/lua/*.lua"


def test_every_script_loaded_has_its_file() -> None:
    loaded = {n for p in _python_files() for n in LOADED.findall(p.read_text())}
    assert loaded, "no module loads a script"
    assert sorted(loaded - set(scripts.script_names())) == []


def test_every_lua_file_is_loaded_or_included() -> None:
    loaded = {n for p in _python_files() for n in LOADED.findall(p.read_text())}
    included = {fragment for name in loaded for fragment in scripts.includes(name)}
    assert sorted(set(scripts.script_names()) - loaded) == [], "scripts nothing loads"
    assert sorted(set(scripts.fragment_names()) - included) == [], "fragments nothing includes"


def test_a_fragment_comes_once_after_its_own_includes() -> None:
    order = scripts.includes("job_update_and_set_if_active")
    assert order == ["job_status", "job_keys", "job_move", "job_update"]
    text = scripts.source("job_update_and_set_if_active")
    assert text.count("local function job_status(") == 1
    assert text.index("local INDEX = {}") < text.index("local function move(")


def test_a_flags_line_stays_first() -> None:
    for name, text in SCRIPTS:
        if "#!lua" in text:
            assert text.startswith("#!lua flags="), name


def test_constants_are_written_as_lua_literals() -> None:
    text = scripts.source("job_cancel")
    assert "{{" not in text
    assert f"cjson.encode('{contracts.CANCELLED}')" in text
    assert scripts.lua_literal(("a", "b")) == "{'a', 'b'}"
    assert scripts.lua_literal(frozenset({"b", "a"})) == "{['a'] = true, ['b'] = true}"
    assert scripts.lua_literal(7) == "7"
    with pytest.raises(ValueError, match="plain name"):
        scripts.lua_literal("it's")
    with pytest.raises(KeyError, match="FIELDS"):
        scripts.source("job_read")  # its module passes FIELDS


def test_the_built_shared_package_carries_and_loads_its_scripts(tmp_path: Path) -> None:
    source, built = tmp_path / "shared", tmp_path / "built"
    shutil.copytree(
        ROOT / "shared", source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    build = [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q"]
    subprocess.run(
        [*build, "build_py", "--build-lib", str(built)],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=120,
    )
    shipped = sorted(p.relative_to(built).as_posix() for p in built.rglob("*.lua"))
    assert shipped == sorted(p.relative_to(ROOT / "shared").as_posix() for p in LUA)
    probe = "from tuneloop.store import Store, scripts; print(scripts.SCRIPTS)"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(built)},
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == str(built / "tuneloop" / "store" / "lua")
