"""The CLI's client: the project header, and which refusals it retries."""

import requests
from tuneloop_cli.client import Api, ApiError, Config


def answer(status: int, headers: dict[str, str] | None = None) -> requests.Response:
    """A canned response."""
    response = requests.Response()
    response.status_code, response._content = status, b'{"detail": "no"}'
    response.headers.update(headers or {})
    return response


class Canned(requests.Session):
    """A session that answers each request with the next canned response."""

    def __init__(self, answers: list[requests.Response]) -> None:
        super().__init__()
        self.answers, self.sent = answers, []

    def request(self, method: str, url: str, **kwargs: object) -> requests.Response:
        self.sent.append((method, url, dict(self.headers)))
        return self.answers.pop(0)


def api_with(answers: list[requests.Response], project: str | None = None) -> tuple[Api, Canned]:
    api = Api(Config(url="http://gateway", api_key="k", project=project), sleep=lambda _: None)
    canned = Canned(answers)
    canned.headers.update(api.session.headers)
    api.session = canned
    return api, canned


def test_a_project_is_sent_as_the_openai_project_header() -> None:
    api, canned = api_with([answer(200)], project="team-a")
    api.send("GET", "/v1/jobs")
    assert canned.sent[0][2]["OpenAI-Project"] == "team-a"
    plain, sent = api_with([answer(200)])
    plain.send("GET", "/v1/jobs")
    assert "OpenAI-Project" not in sent.sent[0][2]


def test_a_429_with_retry_after_is_retried_and_one_without_is_not() -> None:
    limited, canned = api_with([answer(429, {"Retry-After": "1"}), answer(200)])
    assert limited.send("GET", "/v1/jobs").status_code == 200
    assert len(canned.sent) == 2  # a rate limit: asked again after Retry-After
    over, canned = api_with([answer(429), answer(200)])
    try:
        over.send("GET", "/v1/jobs")
    except ApiError as refused:
        assert refused.status == 429
    else:
        raise AssertionError("a used-up budget was retried")
    assert len(canned.sent) == 1  # a quota or budget: retrying cannot help
