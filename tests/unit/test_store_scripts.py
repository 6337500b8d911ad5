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
from tuneloop.store import jobs, scripts

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


def _loaded_names() -> set[str]:
    """The name of every script the services' and shared package's modules load."""
    code = [*(ROOT / "shared").rglob("*.py"), *(ROOT / "services").rglob("*.py")]
    return {name for path in code for name in LOADED.findall(path.read_text())}


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
    loaded = _loaded_names()
    assert loaded, "no module loads a script"
    assert sorted(loaded - set(scripts.script_names())) == []


def test_every_lua_file_is_loaded_or_included() -> None:
    loaded = _loaded_names()
    included = {fragment for name in loaded for fragment in scripts.includes(name)}
    assert sorted(set(scripts.script_names()) - loaded) == [], "scripts nothing loads"
    assert sorted(set(scripts.fragment_names()) - included) == [], "fragments nothing includes"


@pytest.fixture
def lua_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder of scripts (and include/ of fragments) the loader reads instead."""
    (tmp_path / "include").mkdir()
    monkeypatch.setattr(scripts, "SCRIPTS", tmp_path)
    monkeypatch.setattr(scripts, "FRAGMENTS", tmp_path / "include")
    return tmp_path


def test_a_fragment_comes_once_after_its_own_includes(lua_folder: Path) -> None:
    (lua_folder / "include" / "base.lua").write_text("local BASE = 1\n")
    (lua_folder / "include" / "left.lua").write_text("--#include base\nlocal LEFT = BASE\n")
    (lua_folder / "include" / "right.lua").write_text("--#include base\nlocal RIGHT = BASE\n")
    (lua_folder / "both.lua").write_text("--#include left\n--#include right\nreturn LEFT\n")
    assert scripts.includes("both") == ["base", "left", "right"]
    text = scripts.source("both")
    assert text.count("local BASE = 1") == 1
    assert text.index("local BASE") < text.index("local LEFT") < text.index("local RIGHT")
    assert text.endswith("return LEFT\n")


def test_an_include_cycle_is_refused(lua_folder: Path) -> None:
    (lua_folder / "include" / "a.lua").write_text("--#include b\n")
    (lua_folder / "include" / "b.lua").write_text("--#include a\n")
    (lua_folder / "loop.lua").write_text("--#include a\nreturn 1\n")
    with pytest.raises(ValueError, match="loop -> a -> b -> a"):
        scripts.source("loop")


def test_a_flags_line_stays_first(lua_folder: Path) -> None:
    (lua_folder / "include" / "piece.lua").write_text("local PIECE = 1\n")
    (lua_folder / "read.lua").write_text("#!lua flags=no-writes\n--#include piece\nreturn 1\n")
    text = scripts.source("read")
    assert text.startswith("#!lua flags=no-writes\nlocal PIECE = 1\n"), text
    for name, loaded in SCRIPTS:
        if "#!lua" in loaded:
            assert loaded.startswith("#!lua flags="), name


def test_constants_are_written_as_lua_literals() -> None:
    text = jobs.CANCEL
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
