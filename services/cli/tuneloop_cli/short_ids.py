"""Short ids on the command line, as git and docker take them: the one id a prefix starts.

The gateway's list endpoints take `id_prefix` and answer the project's ids that start with
it, newest first. One match is that id; an id given whole is itself (even when it also
starts a longer id); several matches are an error listing them; none leaves the text as
it was, so the command's own request answers the usual 404.
"""

from __future__ import annotations

import click

from tuneloop_cli.client import Api

SHOWN = 10  # candidates an ambiguous prefix lists
ASKED = 100  # the most candidates asked for (the count says "more than" past it)


class AmbiguousIdError(click.ClickException):
    """A prefix that starts several ids: the message lists them."""


def choose(kind: str, text: str, found: list[str], more: bool) -> str:
    """The id text names among the ids found starting with it (newest first)."""
    if text in found or not found:
        return text
    if len(found) == 1 and not more:
        return found[0]
    count = f"more than {len(found)}" if more else str(len(found))
    lines = [f"{kind} id {text!r} is ambiguous: {count} {kind}s start with it"]
    if len(found) > SHOWN or more:
        lines[0] += f"; the newest {SHOWN}"
    lines += [f"  {candidate}" for candidate in found[:SHOWN]]
    raise AmbiguousIdError("\n".join(lines))


def job(api: Api, text: str) -> str:
    """The job id text names (a whole id or a unique prefix)."""
    page = api.get("/v1/jobs", id_prefix=text, limit=ASKED)
    return choose("job", text, [j["id"] for j in page["data"]], page["has_more"])


def model(api: Api, text: str) -> str:
    """The model id text names (a whole id, an alias, or a unique prefix)."""
    listed = api.get("/v1/models", id_prefix=text)["data"]
    found = [m["id"] for m in reversed(listed)]  # newest first, as jobs are
    return choose("model", text, found[:ASKED], len(found) > ASKED)


def job_argument(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A click callback: resolve a job id argument or option."""
    return None if value is None else job(ctx.obj, value)


def model_argument(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A click callback: resolve a model id argument or option."""
    return None if value is None else model(ctx.obj, value)
