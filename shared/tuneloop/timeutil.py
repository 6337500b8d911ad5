"""Timestamps as Unix seconds, as the OpenAI fine-tuning API reports them."""

import time


def now() -> int:
    """Return the current time in whole Unix seconds."""
    return int(time.time())
