"""Who a failed sign-in is counted against, and the setting that bounds them."""

import dataclasses

import pytest

from tuneloop.settings import Settings
from tuneloop_gateway.pages.throttle import client_of


def test_an_ipv4_client_is_its_address_and_an_ipv6_client_its_64() -> None:
    assert client_of("192.0.2.1") == "192.0.2.1" != client_of("192.0.2.2")
    assert client_of("::ffff:192.0.2.1") == "192.0.2.1"  # an IPv4 client on a dual stack
    assert client_of("2001:db8:1:2::1") == client_of("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_of("2001:db8:1:3::1") != client_of("2001:db8:1:2::1")
    assert client_of(None) == "unknown"


def test_the_gateway_refuses_a_bad_login_failure_limit_at_start() -> None:
    from tuneloop_gateway.app import create_app

    settings = Settings(api_key="k" * 32, redis_url="redis://127.0.0.1:1/0")
    with pytest.raises(RuntimeError, match="TUNELOOP_LOGIN_FAILURE_LIMIT 'ten a minute'"):
        create_app(settings=dataclasses.replace(settings, login_failure_limit="ten a minute"))


def test_the_login_failure_limit_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).login_failure_limit == "10/15minutes"
    env = {"TUNELOOP_LOGIN_FAILURE_LIMIT": "5/minute;20/hour"}
    assert Settings.from_env(env).login_failure_limit == "5/minute;20/hour"
