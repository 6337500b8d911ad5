"""Bounds on what one client can hold in a gevent worker: body time, large bodies at once.

gunicorn's gevent worker gives a client ``keepalive`` seconds to send its request line and
headers, but nothing bounds the body: a client that declares a Content-Length and sends a
byte now and then would hold its connection for ever. BodyDeadline wraps the WSGI input so
that every read of the body ends by the deadline; past it the read raises werkzeug's
RequestTimeout, which the app answers as a 408 problem. Reads that are still waiting are
interrupted by a gevent.Timeout, which needs gevent's patched sockets (see patched()).

A gevent worker also serves many requests at once, so without a bound it would buffer as
many bodies of up to TUNELOOP_MAX_BODY_BYTES as clients send it (a sync worker buffers one).
A body over LARGE_BODY bytes is read only while holding one of LARGE_AT_ONCE places per
worker; a request that gets none before its body deadline is answered 503. Each of its reads
then yields to the worker's other requests, so reading and parsing it never stalls them.
"""

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import gevent
from gevent import monkey
from gevent.lock import BoundedSemaphore
from werkzeug.exceptions import RequestTimeout, ServiceUnavailable

LARGE_BODY = 1024 * 1024  # bytes; a batch of 1,000 short interactions is about 150 KB
LARGE_AT_ONCE = 2  # large bodies one worker reads and parses at the same time
WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def patched() -> bool:
    """Whether gevent has patched the socket module (so a gevent.Timeout interrupts a read)."""
    return monkey.is_module_patched("socket")


def is_large(environ: dict) -> bool:
    """Whether the request declares a body over LARGE_BODY bytes, or a chunked one."""
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        return True
    length = environ.get("CONTENT_LENGTH", "")
    return length.isdigit() and int(length) > LARGE_BODY


class DeadlineInput:
    """A WSGI input stream whose reads raise RequestTimeout once the deadline has passed."""

    def __init__(self, stream: Any, seconds: float, gate: BoundedSemaphore | None = None) -> None:
        self.stream, self.seconds, self.gate = stream, seconds, gate
        self.deadline = time.monotonic() + seconds
        self.holding = False

    def _call(self, read: Callable[..., Any], *args: Any) -> Any:
        """Run one read of the underlying stream, ended by the deadline."""
        expired = RequestTimeout(
            f"the request body was not received within {self.seconds:g} s (TUNELOOP_BODY_TIMEOUT)"
        )
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise expired
        if self.gate is not None and not self.holding:
            if not self.gate.acquire(timeout=left):
                busy = ServiceUnavailable("too many large request bodies at once; retry later")
                busy.data = {"headers": {"Retry-After": "5"}}  # read by errors.py's handler
                raise busy
            self.holding = True
        with gevent.Timeout(max(self.deadline - time.monotonic(), 0.001), expired):
            data = read(*args)
        if self.gate is not None:
            # A read returns at once while the client's bytes are there already, so a large
            # body would be read (and parsed) without ever letting the other requests run.
            gevent.sleep(0)
        return data

    def release(self) -> None:
        """Give back the large-body place, if this request took one."""
        if self.holding and self.gate is not None:
            self.holding = False
            self.gate.release()

    def read(self, size: int | None = None) -> bytes:
        """Read up to size bytes (all when None)."""
        return self._call(self.stream.read, size)

    def readline(self, size: int | None = None) -> bytes:
        """Read one line."""
        return self._call(self.stream.readline, size)

    def readlines(self, hint: int | None = None) -> list[bytes]:
        """Read every line."""
        return self._call(self.stream.readlines, hint)

    def __iter__(self) -> Iterator[bytes]:
        """Yield the lines of the body."""
        while line := self.readline():
            yield line


class BodyDeadline:
    """WSGI middleware: each body must arrive within seconds; few large bodies at once."""

    def __init__(self, app: WsgiApp, seconds: float) -> None:
        self.app, self.seconds = app, seconds
        self.large = BoundedSemaphore(LARGE_AT_ONCE)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        gate = self.large if is_large(environ) else None
        body = DeadlineInput(environ["wsgi.input"], self.seconds, gate)
        environ["wsgi.input"] = body
        try:
            return self.app(environ, start_response)
        finally:
            body.release()  # Flask has read and answered by the time it returns
