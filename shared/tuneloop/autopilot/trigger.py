"""When an autopilot's next run is due: after new_ratings more ratings, or every so long."""

import re

EVERY = re.compile(r"^(?=\d)(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
UNIT_SECONDS = (86400, 3600, 60, 1)
MIN_EVERY = 60  # seconds: the shortest period a trigger may have


def parse_every(text: str) -> int:
    """Return the seconds of a period such as "6h", "90m" or "1d12h"; ValueError otherwise."""
    found = EVERY.fullmatch(text.strip())
    if found is None or not any(found.groups()):
        raise ValueError(f"{text!r} is not a period such as '30m', '6h' or '1d12h'")
    return sum(int(n or 0) * unit for n, unit in zip(found.groups(), UNIT_SECONDS, strict=True))


def due(autopilot: dict, ratings_now: int, at: int) -> str | None:
    """Return why the autopilot's next run is due at `at` (Unix seconds), or None if it is not.

    ratings_now is the project's count of ratings ever added; the run is due once it is
    new_ratings past the count at the last run, or once `every` has passed since the last
    run (since the autopilot's creation before its first).
    """
    trigger = autopilot["trigger"]
    wanted = trigger.get("new_ratings")
    new = ratings_now - autopilot["ratings_at_last_run"]
    if wanted and new >= wanted:
        return f"{new} new ratings (trigger: every {wanted})"
    every = trigger.get("every")
    since = autopilot["last_run_at"] or autopilot["created_at"]
    if every and at - since >= parse_every(every):
        what = "the last run" if autopilot["last_run_at"] else "the autopilot's creation"
        return f"{at - since} s since {what} (trigger: every {every})"
    return None
