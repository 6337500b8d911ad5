"""Webhook targets (SSRF): only http(s) URLs of public addresses, checked at creation and
again on the addresses a name resolves to at each delivery. Nothing here connects anywhere."""

import pytest

from tuneloop.webhooks import targets
from tuneloop.webhooks.targets import TargetRefusedError

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),  # the cloud metadata service
    ("::1", "loopback"),
    ("fe80::1", "link-local"),
    ("fc00::1", "private"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("100.64.0.1", "non-public"),  # carrier-grade NAT
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("::ffff:10.0.0.1", "private"),
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ("2002:a00:1::", "private"),  # 6to4 of 10.0.0.1
]


def never(host: str, port: int) -> list[str]:
    """A resolver a check must not call."""
    raise AssertionError(f"resolved {host}")


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_a_non_public_address_is_refused_with_its_reason(address: str, reason: str) -> None:
    assert targets.refusal(address) == reason
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(TargetRefusedError, match=reason):
        targets.check(f"http://{host}:8080/hook", allow_private=False, resolver=never)


@pytest.mark.parametrize("address", ["1.1.1.1", "8.8.4.4", "2606:4700:4700::1111"])
def test_a_public_address_is_accepted_without_resolving(address: str) -> None:
    assert targets.refusal(address) is None
    host = f"[{address}]" if ":" in address else address
    target = targets.check(f"https://{host}/hook?x=1", allow_private=False, resolver=never)
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        address,
        443,
        "/hook?x=1",
    )


def test_a_name_that_resolves_to_loopback_is_refused_at_creation() -> None:
    # localhost resolves from the hosts file: no DNS query leaves the machine.
    with pytest.raises(TargetRefusedError, match=r"'localhost' resolves to .*loopback"):
        targets.check("http://localhost:9000/hook", allow_private=False)


def test_a_name_is_checked_on_every_address_it_resolves_to() -> None:
    def mixed(host: str, port: int) -> list[str]:
        return ["1.1.1.1", "10.0.0.7"]  # one public, one private: refused

    with pytest.raises(TargetRefusedError, match=r"10\.0\.0\.7, a private address"):
        targets.check("https://hooks.example/in", allow_private=False, resolver=mixed)


def test_a_name_that_rebinds_to_a_private_address_is_refused_at_delivery() -> None:
    answers = iter([["1.1.1.1"], ["169.254.169.254"]])

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    target = targets.check("http://rebind.example/x", allow_private=False, resolver=rebinding)
    with pytest.raises(TargetRefusedError, match=r"169\.254\.169\.254, a link-local"):
        targets.addresses(target, allow_private=False, resolver=rebinding)


def test_a_name_that_does_not_resolve_is_refused() -> None:
    def nowhere(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(TargetRefusedError, match="does not resolve"):
        targets.check("http://nowhere.invalid/", allow_private=False, resolver=nowhere)


def test_with_private_targets_allowed_only_the_form_is_checked() -> None:
    assert targets.check("http://127.0.0.1:9/x", allow_private=True, resolver=never).port == 9
    assert targets.check("http://localhost/x", allow_private=True, resolver=never).port == 80
    found = targets.addresses(targets.parse("http://10.0.0.1/"), allow_private=True)
    assert found == ["10.0.0.1"]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://files.example/x", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("gopher://h/", "http:// or https://"),
        ("//hooks.example/x", "http:// or https://"),
        ("http://user:pw@hooks.example/", "user name or password"),
        ("http://hooks.example/#part", "fragment"),
        ("http:///path", "name a host"),
        ("http://hooks.example:0/", "port 0"),
        ("http://hooks.example:70000/", "not a valid URL"),
        ("http://hooks.example/a b", "spaces"),
        ("http://hooks.example/\r\nX-Injected: 1", "control characters"),
        ("http://hooks.example\\@127.0.0.1/", "backslashes"),
        ("http://hooks.example/" + "a" * 2048, "2048"),
    ],
)
def test_a_url_that_is_not_an_absolute_http_url_is_refused(url: str, says: str) -> None:
    with pytest.raises(TargetRefusedError, match=says):
        targets.check(url, allow_private=True, resolver=never)
