"""The store's Lua scripts, read from the .lua files shipped beside this module.

A script is lua/{name}.lua; a store module reads it once, at import, and registers it when
the store is built (as the limits library does with its lua_scripts/*.lua). Two things are
resolved when a file is read, so the files spell no status and build nothing at run time:

- `--#include name` lines (Lua comments, at the top of a file) put lua/include/{name}.lua
  before the script's own text: each fragment once, a fragment's own includes before it, in
  the order first named. A `#!lua` flags line stays first.
- `{{NAME}}` is a constant written as a Lua literal: a status or status list from
  tuneloop.contracts, or one the loading module passes (a string, an int, a sequence as a
  Lua list, a frozenset as a Lua set of `name = true`, a dict of ints as a Lua table). A
  literal costs nothing to build at run time, unlike the same table made by a loop.

Every key a script touches arrives in KEYS (names come from tuneloop.store.keys).
"""

import re
from collections.abc import Iterable
from importlib import resources
from importlib.resources.abc import Traversable

from tuneloop import contracts

SCRIPTS: Traversable = resources.files(__package__) / "lua"
FRAGMENTS: Traversable = SCRIPTS / "include"
SUFFIX = ".lua"
INCLUDE = re.compile(r"^--#include (\w+)\s*$", re.MULTILINE)
CONSTANT = re.compile(r"\{\{([A-Z_]+)\}\}")
FLAGS = "#!lua"
LuaValue = str | int | tuple[str, ...] | list[str] | frozenset[str] | dict[str, int]
# The constants every script may name.
CONTRACTS: dict[str, LuaValue] = {
    "QUEUED": contracts.QUEUED,
    "RUNNING": contracts.RUNNING,
    "PAUSING": contracts.PAUSING,
    "PAUSED": contracts.PAUSED,
    "CANCELLED": contracts.CANCELLED,
    "ACTIVE": contracts.ACTIVE,
    "TERMINAL": contracts.TERMINAL,
    "HALTED": contracts.HALTED,
}


def source(name: str, **constants: LuaValue) -> str:
    """Return the script lua/{name}.lua with its fragments included and constants written in."""
    text = _read(SCRIPTS, name)
    flags, text = _split_flags(text)
    parts = [_read(FRAGMENTS, fragment) for fragment in includes(name)]
    return flags + _fill("".join([*parts, text]), {**CONTRACTS, **constants}, name)


def includes(name: str) -> list[str]:
    """Return the fragments script name includes, directly or not, in the order they go first."""
    order: list[str] = []
    _visit(_read(SCRIPTS, name), order, (name,))
    return order


def script_names() -> list[str]:
    """Return the name of every script file."""
    return _names(SCRIPTS)


def fragment_names() -> list[str]:
    """Return the name of every fragment file."""
    return _names(FRAGMENTS)


def _visit(text: str, order: list[str], path: tuple[str, ...]) -> None:
    """Add the fragments text includes to order, each after its own includes (depth first)."""
    for fragment in INCLUDE.findall(text):
        if fragment in path:
            raise ValueError(f"Lua include cycle: {' -> '.join([*path, fragment])}")
        if fragment not in order:
            _visit(_read(FRAGMENTS, fragment), order, (*path, fragment))
            order.append(fragment)


def _read(folder: Traversable, name: str) -> str:
    """Return the text of folder/{name}.lua (FileNotFoundError naming it when there is none)."""
    return (folder / f"{name}{SUFFIX}").read_text(encoding="utf-8")


def _names(folder: Traversable) -> list[str]:
    """Return the names of the .lua files in folder."""
    return sorted(p.name.removesuffix(SUFFIX) for p in folder.iterdir() if p.name.endswith(SUFFIX))


def _split_flags(text: str) -> tuple[str, str]:
    """Split off a script's `#!lua` flags line, which must stay its first line."""
    if not text.startswith(FLAGS):
        return "", text
    first, _, rest = text.partition("\n")
    return first + "\n", rest


def _fill(text: str, constants: dict[str, LuaValue], name: str) -> str:
    """Write each {{NAME}} of text as its constant's Lua literal; KeyError for an unknown one."""

    def literal(match: re.Match) -> str:
        if match[1] not in constants:
            raise KeyError(f"{name}{SUFFIX}: no constant {match[1]}")
        return lua_literal(constants[match[1]])

    return CONSTANT.sub(literal, text)


def lua_literal(value: LuaValue) -> str:
    """Return value as a Lua literal: a quoted string, a number, a list, a set or a table."""
    if isinstance(value, bool):
        raise TypeError(f"no Lua literal for {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, frozenset):
        return _table(f"[{_quoted(v)}] = true" for v in sorted(value))
    if isinstance(value, dict):
        return _table(f"[{_quoted(k)}] = {int(v)}" for k, v in value.items())
    return _table(_quoted(v) for v in value)


def _table(items: Iterable[str]) -> str:
    return "{" + ", ".join(items) + "}"


def _quoted(value: str) -> str:
    """Return a name as a single-quoted Lua string (names need no escaping)."""
    if not re.fullmatch(r"[\w.:-]*", value):
        raise ValueError(f"not a plain name for a Lua literal: {value!r}")
    return f"'{value}'"
