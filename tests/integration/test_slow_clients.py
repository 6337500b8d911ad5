"""Slow clients do not hold the gateway: a probe stays fast while others trickle their requests.

A private stack (redis-server and the gateway under tuneloop_gateway.gunicorn_conf, no
worker: nothing here runs a job). Slow clients are raw sockets that send a request's header
bytes one at a time. Under the old configuration (gunicorn sync workers) SLOW of them held
both workers, so /healthz waited for gunicorn's 30 s worker timeout. A body over the limit
is answered from its headers without waiting for the rest, and a body that stalls by the
body deadline.
"""

import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tuneloop.settings import Settings

from .support import API_KEY, PROBLEM_JSON, Stack, fault_stack, report_recovery
from .support.raw_http import read_response

pytestmark = pytest.mark.integration

SLOW, TICK, ATTACK = 100, 0.5, 8.0  # connections, seconds between their bytes, seconds
PROBE_EVERY, PROBE_TIMEOUT = 0.2, 10.0  # seconds between probes; a probe's own timeout
FAST = 2.0  # every probe answers 200 within this
BODY_TIMEOUT = 2.0
HEADER_LIMIT = 10.0  # keepalive (5 s) is the header deadline; a sync worker holds 30 s
REFUSED_WITHIN = 1.0  # a body over the limit is answered from its headers, at once


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """The gateway with a short body deadline, on its own redis-server."""
    env = {"TUNELOOP_BODY_TIMEOUT": f"{BODY_TIMEOUT:g}"}
    with fault_stack(workers=(), gateway_env=env) as running:
        yield running


def address(stack: Stack) -> tuple[str, int]:
    """The gateway's host and port."""
    host, port = stack.base_url.removeprefix("http://").split(":")
    return host, int(port)


def slow_socket(stack: Stack) -> socket.socket:
    """A connection that has sent the start of a request and no end to its headers."""
    sock = socket.create_connection(address(stack), timeout=5)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: ")
    sock.setblocking(False)
    return sock


class SlowClients:
    """Keep n slow connections open, one more header byte each every TICK seconds."""

    def __init__(self, stack: Stack, n: int) -> None:
        self.stack, self.socks = stack, [slow_socket(stack) for _ in range(n)]
        self.cut = 0  # connections the server closed (each is opened again, as an attacker does)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(TICK):
            for i, sock in enumerate(self.socks):
                try:
                    sock.send(b"a")
                except BlockingIOError:
                    pass
                except OSError:
                    sock.close()
                    self.cut += 1
                    self.socks[i] = slow_socket(self.stack)

    def __enter__(self) -> "SlowClients":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        for sock in self.socks:
            sock.close()


def probe(stack: Stack) -> float:
    """GET /healthz on a new connection; return its latency (PROBE_TIMEOUT when it got no 200)."""
    started = time.monotonic()
    try:
        response = requests.get(f"{stack.base_url}/healthz", timeout=PROBE_TIMEOUT)
    except requests.RequestException:
        return PROBE_TIMEOUT
    return time.monotonic() - started if response.status_code == 200 else PROBE_TIMEOUT


def test_healthz_stays_fast_while_slow_clients_trickle_their_headers(stack: Stack) -> None:
    latencies = []
    with SlowClients(stack, SLOW) as slow:
        end = time.monotonic() + ATTACK
        while time.monotonic() < end:
            latencies.append(probe(stack))
            time.sleep(PROBE_EVERY)
    ordered = sorted(latencies)
    p50, p99 = statistics.median(ordered), ordered[int(0.99 * (len(ordered) - 1))]
    print(f"\n/healthz with {SLOW} slow clients: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    report_recovery(
        f"{SLOW} slow clients -> slowest /healthz",
        max(latencies),
        f"{len(latencies)} probes, {slow.cut} slow connections cut by the server",
    )
    slow_probes = [round(x, 2) for x in latencies if x >= FAST]
    assert not slow_probes, f"probes of {FAST} s or more: {slow_probes}\n{stack.logs()}"


def test_a_client_that_never_finishes_its_headers_is_cut_off(stack: Stack) -> None:
    sock = slow_socket(stack)
    started = time.monotonic()
    try:
        while time.monotonic() - started < HEADER_LIMIT:
            try:
                sock.send(b"a")
                if sock.recv(1) == b"":  # the server closed the connection
                    break
            except BlockingIOError:
                pass
            except OSError:
                break
            time.sleep(TICK)
    finally:
        sock.close()
    held = time.monotonic() - started
    assert held < HEADER_LIMIT, f"a client still sending headers was held {held:.1f} s"


def test_a_body_over_the_limit_is_refused_from_its_headers_before_it_is_read(
    stack: Stack,
) -> None:
    limit = Settings().max_body_bytes
    head = (
        "POST /v1/interactions/batch HTTP/1.1\r\nHost: t\r\n"
        f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {limit + 1}\r\n\r\n"
    )
    before = stack.store.interactions.count()
    with socket.create_connection(address(stack), timeout=5) as sock:
        # The start of the body, then nothing: a gateway that read the body before judging
        # its size would wait here until the body deadline (408 after BODY_TIMEOUT).
        sock.sendall(head.encode() + b'{"items": [')
        started = time.monotonic()
        status, headers, body = read_response(sock, timeout=BODY_TIMEOUT + 5)
    waited = time.monotonic() - started
    assert status == 413, body
    assert waited < REFUSED_WITHIN, f"413 after {waited:.2f} s: the body was waited for"
    assert headers["content-type"].startswith(PROBLEM_JSON)
    detail = json.loads(body)["detail"]
    assert str(limit) in detail and "TUNELOOP_MAX_BODY_BYTES" in detail, detail
    assert stack.store.interactions.count() == before


def test_a_body_that_stalls_gets_408_at_the_body_deadline(stack: Stack) -> None:
    head = (
        "POST /v1/interactions HTTP/1.1\r\nHost: t\r\n"
        f"Authorization: Bearer {API_KEY}\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n"
    )
    with socket.create_connection(address(stack), timeout=5) as sock:
        sock.sendall(head.encode() + b'{"input": ')  # 10 of the 100 bytes, then nothing
        started = time.monotonic()
        status, headers, body = read_response(sock, timeout=BODY_TIMEOUT + 5)
    waited = time.monotonic() - started
    assert status == 408, body
    assert headers["content-type"].startswith(PROBLEM_JSON)
    assert "TUNELOOP_BODY_TIMEOUT" in json.loads(body)["detail"]
    assert BODY_TIMEOUT - 0.5 < waited < BODY_TIMEOUT + 3, waited
