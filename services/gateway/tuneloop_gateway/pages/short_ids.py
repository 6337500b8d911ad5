"""A short id in a page's URL, as git and docker take one: the page of the one id it starts.

A path parameter that is not a whole id of its kind (id_params marks it Malformed) is looked
up among the ids of the visitor's project that start with it: one match is answered with a
303 to the page of the whole id, several with a 300 page linking each (the first few, and
how many matched), none with the usual 404 (id_params.refuse_malformed); a lookup cut short
(an index past prefixes.MAX_VISITED) with a 422 page asking for the whole id.
"""

from collections.abc import Callable

from flask import redirect, render_template, request, url_for

from tuneloop.store import Store, prefixes
from tuneloop_gateway.extensions import project_store
from tuneloop_gateway.id_params import Malformed
from tuneloop_gateway.pages.site import bp

CANDIDATES_SHOWN = 10
# The kinds of id a project indexes, and its index's store.
INDEXED: dict[str, Callable[[Store], object]] = {
    "job": lambda store: store.jobs,
    "model": lambda store: store.models,
    "autopilot": lambda store: store.autopilots,
    "interaction": lambda store: store.interactions,
    "file": lambda store: store.files,
    "webhook": lambda store: store.webhooks,
}


def resolve_short_ids() -> object:
    """Redirect a page's short id to its whole id, or list the ids it may mean."""
    if request.blueprint != bp.name or request.method != "GET" or request.routing_exception:
        return None
    if request.endpoint.endswith("_json"):
        return None  # the pages' own JSON, fetched with whole ids
    args = request.view_args or {}
    for name, value in args.items():
        if isinstance(value, Malformed) and value.kind.name in INDEXED:
            store = INDEXED[value.kind.name](project_store())
            matches = store.with_prefix(str(value), CANDIDATES_SHOWN)
            if matches.unique is not None:
                return redirect(_page(name, matches.ids[0]), 303)
            if matches.total > 1 or matches.cut_short:
                return _ambiguous(value, name, matches)
    return None  # no match: refuse_malformed answers 404


def _page(name: str, full_id: str) -> str:
    """The URL of this page with its short id replaced by full_id (the query kept)."""
    url = url_for(request.endpoint, **{**(request.view_args or {}), name: full_id})
    query = request.query_string.decode("latin-1")
    return f"{url}?{query}" if query else url


def _ambiguous(value: Malformed, name: str, matches: prefixes.Matches) -> tuple[str, int]:
    """A 300 page linking the ids the short id may mean; 422 when the lookup was cut short
    (the index is too large to tell which ids it starts: the whole id is needed)."""
    links = [(mid, _page(name, mid)) for mid in matches.ids]
    page = render_template(
        "ambiguous.html",
        kind=value.kind.name,
        short=str(value),
        links=links,
        total=matches.total,
        counted_all=matches.counted_all,
        cut_short=matches.cut_short,
        max_visited=prefixes.MAX_VISITED,
    )
    return page, 422 if matches.cut_short else 300
