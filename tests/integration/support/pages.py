"""Signing in to the report pages through the login form."""

import re

import requests

from .stacks import API_KEY

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The first CSRF token of a page's forms."""
    found = CSRF.search(html)
    assert found, f"no CSRF token in the page: {html[:500]}"
    return found.group(1)


def login(session: requests.Session, base: str, key: str = API_KEY) -> requests.Response:
    """Log in through the form; return the answer to the POST (not followed)."""
    form = session.get(f"{base}/ui/login", timeout=30)
    assert form.status_code == 200, form.text
    data = {"csrf_token": csrf_of(form.text), "api_key": key, "next": "/ui/jobs"}
    return session.post(f"{base}/ui/login", data=data, allow_redirects=False, timeout=30)
