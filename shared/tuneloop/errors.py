"""Errors that end a job: each has a stable machine-readable code."""


class StageError(Exception):
    """A deterministic failure of a stage; retrying would fail the same way."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)  # both in args, so Celery can rebuild it from JSON
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class StageSkipped(Exception):  # noqa: N818 - a signal, not an error
    """The job has finished (cancelled or failed elsewhere): stop here, run nothing after."""


class StageNotReady(Exception):  # noqa: N818
    """The stage's inputs are not all complete, or another runner holds it: try again later."""

    def __init__(self, reason: str, countdown: float, lease_held: bool = False) -> None:
        super().__init__(reason, countdown, lease_held)
        self.reason, self.countdown, self.lease_held = reason, countdown, lease_held

    def __str__(self) -> str:
        return f"{self.reason} (retry in {self.countdown:g}s)"


class JobCancelled(Exception):  # noqa: N818
    """The job was cancelled while the stage ran."""


class JobPaused(Exception):  # noqa: N818
    """The job is pausing: the stage stopped at a boundary, its checkpoint written."""


class StagePaused(StageSkipped):
    """A pause halted the job: this stage stops (or never starts), is not done and counts no
    crash; resuming the job sends it again."""


class FannedOut(StageSkipped):
    """A fanned-out stage planned parts: send them; the part that completes the set goes on."""

    def __init__(self, stage: str, parts: tuple[int, ...]) -> None:
        super().__init__(stage, parts)
        self.stage, self.parts = stage, parts

    def __str__(self) -> str:
        return f"{self.stage}: {len(self.parts)} parts sent to the workers"
