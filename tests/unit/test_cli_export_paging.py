"""`tuneloop export` reads every page of GET /v1/interactions, short or empty ones too."""

from tuneloop_cli.export import interactions_until


class PagedApi:
    """GET /v1/interactions as the gateway answers it: pages with has_more and next_after."""

    def __init__(self, pages: dict[str | None, dict]) -> None:
        self.pages, self.asked = pages, []

    def get(self, path: str, **params: object) -> dict:
        assert path == "/v1/interactions"
        self.asked.append(params["after"])
        return self.pages[params["after"]]


def row(n: int) -> dict:
    return {"id": f"int-{n}", "created_at": n}


def test_an_empty_page_with_more_after_it_is_read_past_with_next_after() -> None:
    api = PagedApi(
        {
            None: {"data": [row(1), row(2)], "has_more": True, "next_after": "int-2"},
            "int-2": {"data": [], "has_more": True, "next_after": "int-9"},
            "int-9": {"data": [row(10)], "has_more": False},
        }
    )
    assert [r["id"] for r in interactions_until(api, None, 100)] == ["int-1", "int-2", "int-10"]
    assert api.asked == [None, "int-2", "int-9"]


def test_a_page_without_next_after_continues_after_its_last_row() -> None:
    api = PagedApi(
        {
            None: {"data": [row(1), row(2)], "has_more": True},
            "int-2": {"data": [row(3), row(200)], "has_more": True, "next_after": "int-200"},
        }
    )
    assert [r["id"] for r in interactions_until(api, None, 100)] == ["int-1", "int-2", "int-3"]
    assert api.asked == [None, "int-2"]
