"""The `tuneloop` command: options every command shares, and error handling."""

from __future__ import annotations

import sys

import click
import requests

from tuneloop_cli.ask import ask
from tuneloop_cli.client import DEFAULT_URL, Api, ApiError, Config
from tuneloop_cli.compare import compare
from tuneloop_cli.export import export
from tuneloop_cli.ingest import ingest
from tuneloop_cli.jobs import jobs
from tuneloop_cli.output import EXIT_INTERRUPTED, err
from tuneloop_cli.report import report


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar="TUNELOOP_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="The gateway's base URL [env: TUNELOOP_URL].",
)
@click.option(
    "--api-key",
    envvar="TUNELOOP_API_KEY",
    help="The bearer key to send [env: TUNELOOP_API_KEY].",
)
@click.option(
    "--project",
    envvar="TUNELOOP_PROJECT",
    help="The project to work in, for a key over every project [env: TUNELOOP_PROJECT].",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=300.0,
    show_default=True,
    help="Seconds to wait for one answer.",
)
@click.version_option("0.1.0", prog_name="tuneloop")
@click.pass_context
def cli(
    ctx: click.Context, url: str, api_key: str | None, project: str | None, timeout: float
) -> None:
    """Tuneloop from the command line: ingest ratings, run jobs, read reports, ask models."""
    ctx.obj = Api(Config(url=url, api_key=api_key or None, timeout=timeout, project=project))


for command in (ingest, jobs, report, export, ask):
    cli.add_command(command)
jobs.add_command(compare)  # tuneloop jobs compare A B


def main() -> None:
    """Run the CLI; turn API and connection errors into one line on stderr and exit 1."""
    try:
        code = cli.main(standalone_mode=False)  # ctx.exit(n) comes back as n
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        err.print("aborted")
        sys.exit(EXIT_INTERRUPTED)
    except ApiError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)
    except requests.RequestException as exc:
        err.print(f"error: cannot reach the gateway: {exc}", markup=False)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
