"""A private redis-server: its command line and whether it answers."""

import shutil
from pathlib import Path

import redis

from tuneloop_devstack.procs import StartError

PIDFILE = "redis.pid"
SUBDIR = "redis"  # its --dir under a stack's working directory
REDIS_MISSING = (
    "redis-server was not found on PATH: install it (Debian/Ubuntu: sudo apt-get install "
    "redis-server) or set REDIS_URL to a Redis you run"
)


def redis_binary() -> str:
    """Return the path of redis-server; StartError when it is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise StartError(REDIS_MISSING)
    return binary


def redis_argv(
    port: int, data_dir: Path, appendfsync: str | None, binary: str = "redis-server"
) -> list[str]:
    """Return the command line: no snapshots; an append-only file unless appendfsync is None.

    Its pid goes to data_dir/redis.pid while it runs, so that a later start finds a
    redis-server an earlier one left behind on the same data.
    """
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir)]
    argv += ["--pidfile", str(data_dir.resolve() / PIDFILE)]
    argv += ["--save", "", "--maxmemory-policy", "noeviction"]
    if appendfsync is None:
        return [*argv, "--appendonly", "no"]
    return [*argv, "--appendonly", "yes", "--appendfsync", appendfsync]


def client(url: str) -> redis.Redis:
    """Return a fresh client with short timeouts (not a pooled one from before a restart)."""
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=1)


def answers(url: str) -> bool:
    """Return whether the Redis at url answers PING right now."""
    probe = client(url)
    try:
        return bool(probe.ping())
    except redis.RedisError:
        return False
    finally:
        probe.close()
