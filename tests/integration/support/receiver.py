"""A webhook receiver on 127.0.0.1 for the tests: it records every POST, and each path says
how it answers (a script of statuses, or holding the connection open without an answer)."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Received:
    """One POST as the receiver got it."""

    at: float  # time.time() when its body had been read
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A threaded HTTP server recording POSTs; answers per path, 200 when none is set."""

    answers: dict[str, list[int]] = field(default_factory=dict)  # path -> statuses, in turn
    hanging: set[str] = field(default_factory=set)  # paths that never answer
    got: list[Received] = field(default_factory=list)
    held: list[socket.socket] = field(default_factory=list)  # connections of hanging paths
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: http.server.ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        """The address of one of the receiver's paths."""
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def at(self, path: str) -> list[Received]:
        """The POSTs received on path so far."""
        with self.lock:
            return [r for r in self.got if r.path == path]

    def still_open(self, index: int) -> bool:
        """Whether the sender still holds open the index-th connection to a hanging path."""
        with self.lock:
            return _open(self.held[index])

    def _record(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        hangs = handler.path in self.hanging
        with self.lock:
            self.got.append(Received(time.time(), handler.path, dict(handler.headers), body))
            statuses = self.answers.get(handler.path, [])
            status = statuses.pop(0) if len(statuses) > 1 else (statuses or [200])[0]
            if hangs:
                self.held.append(handler.connection)
        if hangs:
            self.release.wait(120)  # the sender gives up first: its deadline
            return
        handler.send_response(status)
        handler.send_header("Content-Type", "text/plain")
        handler.end_headers()
        handler.wfile.write(f"answered {status} ".encode() + b"x" * 2000)


def _open(sock: socket.socket) -> bool:
    """Whether the peer still holds a connection open (a peek finds neither EOF nor a reset)."""
    try:
        sock.setblocking(False)
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def serve(receiver: Receiver) -> Iterator[Receiver]:
    """Run the receiver in a thread until the generator is closed (for a fixture)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver._record(self)

        def log_message(self, *args: object) -> None:
            pass

    receiver.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.server.daemon_threads = True
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        receiver.server.shutdown()
        receiver.server.server_close()
