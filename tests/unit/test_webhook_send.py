"""One delivery attempt: signed as Standard Webhooks verifies it, POSTed only to a checked
address, within its deadline. The receivers listen on 127.0.0.1 in this process."""

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tuneloop.webhooks import send
from tuneloop.webhooks.send import RESPONSE_PREFIX

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = b'{"id":"evt_1","object":"event","type":"model.promoted","created_at":1,"data":{}}'


class Recorder(BaseHTTPRequestHandler):
    """Answers 200 with a long body, recording what it got."""

    got: ClassVar[list] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.got.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"y" * 4000)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    """A recording receiver on 127.0.0.1."""
    Recorder.got = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def headers(body: bytes = BODY) -> dict[str, str]:
    """Signed headers for body, now."""
    return send.signed_headers(SECRET, "evt_1", body, datetime.now(UTC))


def test_the_signature_verifies_with_standardwebhooks_and_a_tampered_body_does_not() -> None:
    signed = headers()
    assert set(signed) >= {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert Webhook(SECRET).verify(BODY, signed)["id"] == "evt_1"
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(BODY.replace(b"promoted", b"rolled_back"), signed)


def test_an_attempt_posts_the_signed_body_and_keeps_the_answers_first_bytes(server) -> None:
    url = f"http://127.0.0.1:{server.server_port}/in?x=1"
    outcome = send.post(url, BODY, headers(), timeout=5, allow_private=True)
    assert outcome.ok and outcome.status_code == 200 and outcome.error is None
    assert outcome.response == "y" * RESPONSE_PREFIX
    ((path, got, body),) = Recorder.got
    assert path == "/in?x=1" and body == BODY
    assert got["Host"] == f"127.0.0.1:{server.server_port}"
    assert Webhook(SECRET).verify(body, got)["type"] == "model.promoted"


def test_a_name_resolving_to_loopback_is_refused_at_delivery_and_never_connected(server) -> None:
    def to_loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    url = f"http://hooks.example:{server.server_port}/in"
    outcome = send.post(url, BODY, headers(), 5, allow_private=False, resolver=to_loopback)
    assert outcome.status_code is None and not outcome.ok
    assert outcome.error.startswith("refused: ") and "loopback" in outcome.error
    assert Recorder.got == []  # the receiver on 127.0.0.1 got nothing


def test_the_connection_goes_to_the_address_checked_not_to_the_name_again(server) -> None:
    calls = []

    def once(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    url = f"http://receiver.test:{server.server_port}/in"
    assert send.post(url, BODY, headers(), 5, allow_private=True, resolver=once).ok
    assert calls == ["receiver.test"]  # resolved once; a second lookup could rebind
    assert Recorder.got[0][1]["Host"] == f"receiver.test:{server.server_port}"


def test_a_refused_connection_is_an_error_not_an_exception() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    outcome = send.post(f"http://127.0.0.1:{port}/", BODY, headers(), 5, allow_private=True)
    assert outcome.status_code is None and "ConnectionRefusedError" in outcome.error


def test_an_endpoint_that_never_answers_is_given_up_at_the_deadline() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/slow"
        began = time.monotonic()
        outcome = send.post(url, BODY, headers(), timeout=0.5, allow_private=True)
        took = time.monotonic() - began
    assert outcome.error == "timed out after 0.5 s" and outcome.status_code is None
    assert 0.5 <= took < 2.0, took


def test_an_endpoint_that_drips_its_answer_is_given_up_at_the_deadline() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        stop = threading.Event()

        def drip() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                while not stop.wait(0.1):  # a header line every 0.1 s: each read succeeds
                    conn.sendall(b"X-Drip: 1\r\n")

        thread = threading.Thread(target=drip, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/drip"
        began = time.monotonic()
        outcome = send.post(url, BODY, headers(), timeout=1.0, allow_private=True)
        took = time.monotonic() - began
        stop.set()
    assert outcome.error == "timed out after 1 s", outcome
    assert took < 2.5, took
