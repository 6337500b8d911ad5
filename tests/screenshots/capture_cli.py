"""Capture the CLI at work in a pseudo-terminal and save it as a PNG for the README.

Starts a private stack, then runs, in one pseudo-terminal of COLUMNS x ROWS: `tuneloop ingest`
of eight Banking77 intents (JSONL), `tuneloop jobs create --holdout 0.25 --watch` and
`tuneloop report`.
pyte replays what the terminal received (colours, progress bars redrawn in place) into a
screen; rich draws that screen as an SVG terminal window; headless Chromium turns it into
services/cli/screenshots/cli.png.

    .venv/bin/python tests/screenshots/capture_cli.py    # or: make screenshots
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import tempfile
from pathlib import Path

import pyte
from rich.console import Console
from rich.style import Style
from rich.text import Text

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from support.browser import chromium  # noqa: E402
from tuneloop_devstack.stack import Stack  # noqa: E402

BANKING77 = REPO.parent / "shared" / "data" / "banking77" / "train.csv"
INTENTS = (
    "card_arrival",
    "card_linking",
    "exchange_rate",
    "lost_or_stolen_card",
    "pin_blocked",
    "top_up_failed",
    "transfer_timing",
    "balance_not_updated_after_bank_transfer",
)
COLUMNS, ROWS = 110, 200
OUT = REPO / "services" / "cli" / "screenshots" / "cli.png"
TIMEOUT = 300.0


def write_rows(path: Path) -> int:
    """Write the chosen intents' training rows as rated interactions in JSONL; return the count."""
    with BANKING77.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["category"] in INTENTS]
    with path.open("w") as out:
        for r in rows:
            answer = f"I can help with that: {r['category'].replace('_', ' ')}."
            item = {"input": r["text"], "output": answer, "rating": 0.9}
            out.write(json.dumps({**item, "task_type": r["category"]}) + "\n")
    return len(rows)


def run_in_terminal(script: str, env: dict[str, str]) -> bytes:
    """Run a shell script on a pseudo-terminal; return everything it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        ["bash", "-c", script], env=env, stdin=slave, stdout=slave, stderr=slave, close_fds=True
    )
    os.close(slave)
    raw = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], TIMEOUT)
            if not ready:
                sys.exit(f"no output for {TIMEOUT:.0f}s:\n{raw.decode(errors='replace')}")
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the script ended and closed the terminal
                break
            if not chunk:
                break
            raw += chunk
    finally:
        os.close(master)
        if proc.wait(timeout=30) != 0:
            sys.exit(f"the CLI failed ({proc.returncode}):\n{raw.decode(errors='replace')}")
    return raw


def screen_text(raw: bytes) -> Text:
    """Replay raw terminal output on a pyte screen; return its lines with their styles."""
    screen = pyte.Screen(COLUMNS, ROWS)
    pyte.Stream(screen).feed(raw.decode("utf-8", "replace").replace("\n", "\r\n"))
    used = max((y for y in range(ROWS) if screen.display[y].strip()), default=0) + 1
    text = Text()
    for y in range(used):
        line = screen.buffer[y]
        for x in range(len(screen.display[y].rstrip())):
            char = line[x]
            color = None if char.fg == "default" else char.fg.replace("brown", "yellow")
            if color and re.fullmatch(r"[0-9a-f]{6}", color):
                color = f"#{color}"
            text.append(char.data, Style(color=color, bold=char.bold))
        text.append("\n")
    return text


def main() -> None:
    """Run the CLI against a private stack and save its terminal as a PNG."""
    stack = Stack(api_key="screenshot-key-0123456789", port=0, workers=1)
    stack.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "banking77-cards.jsonl"
            write_rows(data)
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("TUNELOOP_")},
                "TUNELOOP_URL": stack.base_url,
                "TUNELOOP_API_KEY": stack.api_key,
                "TERM": "xterm-256color",
                "COLUMNS": str(COLUMNS),
                "LINES": str(ROWS),
            }
            latest = "import json, sys; print(json.load(sys.stdin)['data'][0]['id'])"
            create = "tuneloop jobs create --no-synthetic --holdout 0.25 --suffix cards --watch"
            script = (  # the stack is private: the newest job is the one created here
                f"cd {tmp} && echo '$ tuneloop ingest banking77-cards.jsonl' && "
                "tuneloop ingest banking77-cards.jsonl && "
                f"echo '$ {create}' && {create} && "
                f'job=$(tuneloop jobs list --limit 1 --json | {sys.executable} -c "{latest}") && '
                'echo "$ tuneloop report $job" && tuneloop report $job'
            )
            env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
            raw = run_in_terminal(script, env)
    finally:
        stack.stop()
    console = Console(record=True, width=COLUMNS, force_terminal=True, file=io.StringIO())
    console.print(screen_text(raw), end="")
    svg = OUT.with_suffix(".svg")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    svg.write_text(console.export_svg(title="tuneloop"))
    with tempfile.TemporaryDirectory() as tmp, chromium(Path(tmp)) as driver:
        driver.get(svg.as_uri())
        # rich's SVG has only a viewBox: draw it at its own size, one SVG unit per pixel.
        size = driver.execute_script(
            "const svg = document.documentElement, box = svg.viewBox.baseVal;"
            "svg.setAttribute('width', box.width); svg.setAttribute('height', box.height);"
            "return [Math.ceil(box.width), Math.ceil(box.height)];"
        )
        driver.set_window_size(size[0] + 50, size[1] + 200)
        driver.find_element("tag name", "svg").screenshot(str(OUT))
    svg.unlink()
    print(f"saved {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
