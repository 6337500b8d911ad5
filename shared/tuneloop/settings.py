"""Settings read once from the environment at start-up."""

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """Configuration shared by the gateway and the worker."""

    redis_url: str = "redis://localhost:6379/0"
    api_key: str = ""
    log_level: str = "INFO"
    visibility_timeout: int = 7200
    result_expires: int = 86400
    respond_timeout: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        """Build settings from environment variables, with defaults."""
        return cls(
            redis_url=env.get("REDIS_URL", cls.redis_url),
            api_key=env.get("TUNELOOP_API_KEY", ""),
            log_level=env.get("LOG_LEVEL", cls.log_level),
            visibility_timeout=int(env.get("TUNELOOP_VISIBILITY_TIMEOUT", cls.visibility_timeout)),
            result_expires=int(env.get("TUNELOOP_RESULT_EXPIRES", cls.result_expires)),
            respond_timeout=float(env.get("TUNELOOP_RESPOND_TIMEOUT", cls.respond_timeout)),
        )
