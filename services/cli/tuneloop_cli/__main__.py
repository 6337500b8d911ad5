"""Run the CLI as `python -m tuneloop_cli`."""

from tuneloop_cli.main import main

main()
