"""One delivery attempt: the signed POST, connected only to a checked address, in a deadline.

Signed with the standardwebhooks library (the ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature`` headers), so a receiver verifies it with the same library. Only the
worker imports this module.
"""

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import datetime

from standardwebhooks import Webhook

from tuneloop.webhooks import targets
from tuneloop.webhooks.schedule import Outcome

RESPONSE_PREFIX = 512  # bytes of an answer's body a delivery keeps
USER_AGENT = "Tuneloop-Webhooks/1"
MAX_ADDRESSES = 3  # of a name's addresses, the first ones tried


def signed_headers(secret: str, message_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The headers of one attempt: the Standard Webhooks signature of body at time at."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    allow_private: bool,
    resolver: targets.Resolver = targets.resolve,
) -> Outcome:
    """POST body to url within timeout seconds in all; return the answer or the error.

    The host is resolved here and each address checked (targets.addresses); the connection
    goes to a checked address, never to a name resolved again. Redirects are not followed.
    """
    began = time.monotonic()

    def done(status: int | None, response: str = "", error: str | None = None) -> Outcome:
        return Outcome(status, response, error, int((time.monotonic() - began) * 1000))

    try:
        target = targets.parse(url)
        found = targets.addresses(target, allow_private, resolver)
    except targets.TargetRefusedError as exc:
        return done(None, error=f"refused: {exc}")
    deadline = Deadline(timeout)
    # Any failure is the attempt's error (logged, retried on the schedule), never the task's:
    # a task that raised would leave its delivery to be claimed again and again, uncounted.
    try:
        sock = _connect(target, found, timeout)
    except Exception as exc:
        return done(None, error=_error(exc, timeout, deadline))
    with deadline.guarding(sock):
        try:
            status, response = _exchange(sock, target, body, headers, timeout)
        except Exception as exc:
            return done(None, error=_error(exc, timeout, deadline))
        finally:
            sock.close()
    if deadline.fired:  # cut off mid-answer: what was read may look whole (headers at EOF)
        return done(None, error=_error(TimeoutError(), timeout, deadline))
    return done(status, response)


class Deadline:
    """Shuts a socket down once the attempt's time is up (a slow answer cannot hold a thread)."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds
        self.fired = False

    @contextlib.contextmanager
    def guarding(self, sock: socket.socket) -> Iterator[None]:
        """Shut sock down if the block is still running at the deadline."""
        timer = threading.Timer(max(0.0, self.ends - time.monotonic()), self._fire, (sock,))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def _fire(self, sock: socket.socket) -> None:
        self.fired = True
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _connect(target: targets.Target, found: list[str], timeout: float) -> socket.socket:
    """Connect to the first checked address that answers (TLS for https, to the host's name)."""
    error: OSError = OSError(f"no address to connect to for {target.host}")
    for address in found[:MAX_ADDRESSES]:
        try:
            sock = socket.create_connection((address, target.port), timeout=timeout)
        except OSError as exc:
            error = exc
            continue
        if target.scheme != "https":
            return sock
        try:
            return ssl.create_default_context().wrap_socket(sock, server_hostname=target.host)
        except OSError:
            sock.close()
            raise
    raise error


def _exchange(
    sock: socket.socket, target: targets.Target, body: bytes, headers: dict, timeout: float
) -> tuple[int, str]:
    """Send the request on the connected socket; return the status and the body's first bytes."""
    connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    connection.sock = sock  # connected already: http.client does not resolve the name again
    try:
        sent = {"Host": host_header(target), **headers}
        connection.request("POST", target.path, body=body, headers=sent)
        answer = connection.getresponse()
        prefix = answer.read(RESPONSE_PREFIX)
        return answer.status, prefix.decode("utf-8", errors="replace")
    finally:
        connection.sock = None  # the caller closes it


def host_header(target: targets.Target) -> str:
    """The Host header of a request to target: its name, and its port unless the default."""
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == targets.PORTS[target.scheme] else f"{host}:{target.port}"


def _error(exc: BaseException, timeout: float, deadline: Deadline) -> str:
    """Describe a failed attempt's error in one line."""
    if deadline.fired or isinstance(exc, TimeoutError | socket.timeout):
        return f"timed out after {timeout:g} s"
    return f"{type(exc).__name__}: {exc}"[:300]
