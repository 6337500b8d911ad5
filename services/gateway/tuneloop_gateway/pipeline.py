"""The job's canvas lives in the shared package: the worker's sweeper sends it again."""

from tuneloop.canvas import job_canvas

__all__ = ["job_canvas"]
