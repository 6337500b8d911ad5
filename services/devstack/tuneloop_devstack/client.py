"""A small JSON client for the Tuneloop API, standard library only."""

import json
import urllib.error
import urllib.request


class ApiError(Exception):
    """A non-2xx answer, with its problem document."""

    def __init__(self, status: int, body: dict) -> None:
        super().__init__(f"{status}: {body.get('detail', body)}")
        self.status, self.body = status, body


class Client:
    """Call the gateway with the bearer key."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 30.0) -> None:
        self.base_url, self.api_key, self.timeout = base_url, api_key, timeout

    def request(self, method: str, path: str, body: object = None) -> dict:
        """Send one request and return the decoded JSON answer."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.api_key}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, json.loads(exc.read() or b"{}")) from None

    def get(self, path: str) -> dict:
        """GET path."""
        return self.request("GET", path)

    def post(self, path: str, body: object) -> dict:
        """POST a JSON body to path."""
        return self.request("POST", path, body)
