"""Errors that end a job: each has a stable machine-readable code."""


class StageError(Exception):
    """A deterministic failure of a stage; retrying would fail the same way."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)  # both in args, so Celery can rebuild it from JSON
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
