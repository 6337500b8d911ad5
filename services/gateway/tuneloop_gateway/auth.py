"""Bearer keys with scopes: who may call which endpoint.

Keys come from the environment: ``TUNELOOP_API_KEYS`` holds ``name:key:scope[+scope]:project``
entries separated by commas, and ``TUNELOOP_API_KEY`` (when set) is one more key named
``default`` with the ``admin`` scope over every project. Keys are held only as SHA-256
digests; a presented key is hashed and compared with every configured digest in constant time.

Every key belongs to a project, and a request works in its key's project: another project's
data is not there for it (404, as for a missing id). An entry without a project
(``name:key:scope``, as before projects) belongs to the ``default`` project. An admin key may
be given every project (``*``): it works in the one the ``OpenAI-Project`` header names (the
OpenAI SDK's ``project=``), ``default`` without one.

Scopes:

- ``ingest``: post, read, edit, score and delete interactions (and read their stats);
- ``jobs``: create, read and cancel jobs, read their events and training file, read models
  and ask them;
- ``admin``: everything.

A view method declares the scope it needs with :func:`requires`; a protected endpoint that
declares none needs ``admin``.
"""

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flask import Flask, current_app, g, request
from flask_smorest import Blueprint

from tuneloop.settings import Settings
from tuneloop.store.keys import DEFAULT_PROJECT
from tuneloop_gateway import checks
from tuneloop_gateway.errors import problem

log = logging.getLogger(__name__)

INGEST, JOBS, ADMIN = "ingest", "jobs", "admin"
SCOPES = frozenset({INGEST, JOBS, ADMIN})
LEGACY_KEY_NAME = "default"
SECURITY_SCHEME = "bearer"
PUBLIC_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "site_root"})
SHORT_KEY = 16  # characters; shorter keys are accepted with a warning
EVERY_PROJECT = "*"  # an admin key's project: any, chosen per request by PROJECT_HEADER
PROJECT_HEADER = "OpenAI-Project"

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
PROJECT = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")  # part of Redis key names: no ':'

_KEY = re.compile(r"[!-~]+")  # visible ASCII, no spaces

F = TypeVar("F", bound=Callable)


@dataclass(frozen=True)
class ApiKey:
    """One configured key: who holds it, its digest and what it may do."""

    name: str
    digest: bytes
    scopes: frozenset[str]
    project: str = DEFAULT_PROJECT  # or EVERY_PROJECT

    def allows(self, scope: str) -> bool:
        """Whether this key may use an endpoint that needs scope."""
        return ADMIN in self.scopes or scope in self.scopes

    def works_in(self, asked: str, known: frozenset[str]) -> str | None:
        """The project a request with this key works in, given the header's value ("" for
        none) and the projects that exist; None when the key may not work in the one asked."""
        if self.project != EVERY_PROJECT:
            return self.project if asked in ("", self.project) else None
        if not asked:
            return DEFAULT_PROJECT
        return asked if asked in known else None


def parse_api_keys(spec: str, legacy_key: str = "") -> tuple[ApiKey, ...]:
    """Parse TUNELOOP_API_KEYS (and TUNELOOP_API_KEY) into keys.

    Raises RuntimeError naming the faulty entry (never the key itself) when an entry is
    malformed, a scope unknown, a name or key repeated, or no key is configured at all.
    """
    parsed: list[tuple[str, str, frozenset[str], str]] = []
    if legacy_key:
        parsed.append((LEGACY_KEY_NAME, legacy_key, frozenset({ADMIN}), EVERY_PROJECT))
    entries = [entry.strip() for entry in spec.split(",")]
    for number, entry in enumerate(entries, start=1):
        if not entry:
            continue  # a trailing comma or an empty line
        parsed.append(_parse_entry(entry, number))
    if not parsed:
        raise RuntimeError(
            "no API key is configured: set TUNELOOP_API_KEYS (name:key:scope[+scope]:project,"
            "...) "
            "or TUNELOOP_API_KEY; the gateway will not start without one"
        )
    names = [name for name, *_ in parsed]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise RuntimeError(f"TUNELOOP_API_KEYS: key names must be unique; repeated: {repeated}")
    digests: dict[bytes, str] = {}
    keys = []
    for name, key, scopes, project in parsed:
        digest = checks.key_digest(key)
        if digest in digests:
            raise RuntimeError(
                f"TUNELOOP_API_KEYS: keys {digests[digest]!r} and {name!r} are the same key"
            )
        digests[digest] = name
        if len(key) < SHORT_KEY:
            log.warning("API key %r is shorter than %d characters", name, SHORT_KEY)
        keys.append(ApiKey(name, digest, scopes, project))
    return tuple(keys)


def _parse_entry(entry: str, number: int) -> tuple[str, str, frozenset[str], str]:
    where = f"TUNELOOP_API_KEYS entry {number}"
    name, sep, rest = entry.partition(":")
    project = DEFAULT_PROJECT  # an entry from before projects: name:key:scope[+scope]
    head, sep_project, last = rest.rpartition(":")
    if sep_project and ":" in head and not _is_scope_list(last):  # name:key:scopes:project
        rest, project = head, last.strip()
    elif sep_project and _is_scope_list(head.rpartition(":")[2]):
        raise RuntimeError(  # name:key:scopes:scope-named-project, or a key ending ':scope'
            f"{where}: ambiguous: its last two fields are both scope lists; a project may not "
            "be named like a scope, and a key may not end with ':' and a scope"
        )
    key, sep2, scope_text = rest.rpartition(":")
    if not (sep and sep2):
        raise RuntimeError(f"{where}: expected name:key:scope[+scope]:project")
    name, key, scope_text = name.strip(), key.strip(), scope_text.strip()
    if not _NAME.fullmatch(name):
        raise RuntimeError(
            f"{where}: the name must be 1-64 letters, digits, '_', '.' or '-' (got {name!r})"
        )
    if not _KEY.fullmatch(key):
        raise RuntimeError(
            f"{where} ({name}): the key must be visible ASCII characters without spaces"
        )
    scopes = frozenset(s.strip() for s in scope_text.split("+"))
    unknown = sorted(scopes - SCOPES)
    if unknown:
        raise RuntimeError(f"{where} ({name}): unknown scope(s) {unknown}; known: {sorted(SCOPES)}")
    if project == EVERY_PROJECT and ADMIN not in scopes:
        raise RuntimeError(f"{where} ({name}): only an admin key may be given every project (*)")
    if project != EVERY_PROJECT and not PROJECT.fullmatch(project):
        raise RuntimeError(
            f"{where} ({name}): the project must be 1-40 lowercase letters, digits, '_' or '-', "
            f"starting with a letter or digit, or * for every project (got {project!r})"
        )
    return name, key, scopes, project


def _is_scope_list(text: str) -> bool:
    """Whether text is a scope list (scope[+scope]); projects may not be named as scopes."""
    return all(part.strip() in SCOPES for part in text.split("+"))


def projects_of(keys: tuple[ApiKey, ...]) -> frozenset[str]:
    """The projects the keys name (every key's but EVERY_PROJECT), and the default one."""
    return frozenset({DEFAULT_PROJECT, *(k.project for k in keys if k.project != EVERY_PROJECT)})


def keys_from_settings(settings: Settings) -> tuple[ApiKey, ...]:
    """Return the configured keys, or raise RuntimeError explaining what is wrong."""
    return parse_api_keys(settings.api_keys, settings.api_key)


def requires(blp: Blueprint, scope: str) -> Callable[[F], F]:
    """Mark a view method as needing scope (or admin) and document it in OpenAPI."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    roles = [{SECURITY_SCHEME: [scope]}]
    if scope != ADMIN:
        roles.append({SECURITY_SCHEME: [ADMIN]})

    def decorator(func: F) -> F:
        func = blp.doc(security=roles)(func)
        func = blp.alt_response(401, response="UNAUTHORIZED")(func)
        func = blp.alt_response(403, response="FORBIDDEN")(func)
        func = blp.alt_response(429, response="TOO_MANY_REQUESTS")(func)
        func.required_scope = scope
        return func

    return decorator


def method_of(view: object, method: str) -> object:
    """Return the function that handles method on a view (a MethodView's method)."""
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        method = method.lower()
        if method == "head":
            method = "get"
        view = getattr(view_class, method, None)
    return view


def scope_of(func: object) -> str:
    """Return the scope a view function declares with requires (admin when none)."""
    return getattr(func, "required_scope", ADMIN)


def view_method() -> object:
    """Return the function that handles the current request (a MethodView's method)."""
    return method_of(current_app.view_functions.get(request.endpoint or ""), request.method)


def required_scope() -> str:
    """Return the scope the current request's endpoint needs (admin when none is declared)."""
    return scope_of(view_method())


def is_public() -> bool:
    """Whether the current request goes to an endpoint that needs no key."""
    endpoint = request.endpoint or ""
    return endpoint in PUBLIC_ENDPOINTS or endpoint.startswith("api-docs.")


def current_key() -> ApiKey | None:
    """Return the key that authenticated the current request (None on public endpoints)."""
    return g.get("api_key")


def current_project() -> str:
    """Return the project the current request works in (set with its key)."""
    return g.project


def project_refusal(key: ApiKey, asked: str) -> object:
    """The 403 for a key asked to work in a project it may not (the same for any name)."""
    if key.project == EVERY_PROJECT:
        return problem(404, "Not Found", f"no project named {asked!r}")
    return problem(
        403, "Forbidden", f"the key {key.name!r} works only in its own project, not {asked!r}"
    )


def check_bearer() -> object:
    """Answer 401 without a known key, 403 when the key lacks the endpoint's scope."""
    if is_public() or g.get("pages_authenticate_themselves"):
        return None  # the report pages check their session cookie (tuneloop_gateway.pages)
    header = request.headers.get("Authorization", "")
    key = checks.bearer_key(header, current_app.extensions["tuneloop"].api_keys)
    if key is None:
        detail = "missing bearer key" if not header else "the bearer key is not valid"
        return problem(401, "Unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})
    g.api_key = key
    asked = request.headers.get(PROJECT_HEADER, "").strip()
    project = key.works_in(asked, current_app.extensions["tuneloop"].projects)
    if project is None:
        return project_refusal(key, asked)
    g.project = project
    if request.endpoint is None or request.method == "OPTIONS":
        return None  # no such route (404, 405), or Flask's automatic OPTIONS answer
    scope = required_scope()
    if not key.allows(scope):
        alternatives = f"{scope!r} or 'admin'" if scope != ADMIN else "'admin'"
        return problem(
            403,
            "Forbidden",
            f"the key {key.name!r} lacks the scope this endpoint needs: {alternatives}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
        )
    return None


def register(app: Flask) -> None:
    """Check the key and its scope before every request."""
    app.before_request(check_bearer)
