"""Uploads waited on until their check ran: through the openai SDK or the API client."""

import io

import openai
from openai.types import FileObject

from .api import ApiClient
from .polling import wait_until

CHECK_TIMEOUT = 60.0  # seconds a worker may take to check an upload of the tests
CHECKED = ("processed", "error")


def upload_checked(sdk: openai.OpenAI, name: str, content: bytes) -> FileObject:
    """files.create, then the SDK's own files.wait_for_processing (polling every 50 ms)."""
    uploaded = sdk.files.create(file=(name, io.BytesIO(content)), purpose="fine-tune")
    assert uploaded.status == "uploaded", uploaded
    return sdk.files.wait_for_processing(
        uploaded.id, poll_interval=0.05, max_wait_seconds=CHECK_TIMEOUT
    )


def wait_file_checked(client: ApiClient, file_id: str, timeout: float = CHECK_TIMEOUT) -> dict:
    """Poll GET /v1/files/{id} until its status is processed or error; return the record."""

    def checked() -> dict | None:
        response = client.get(f"/v1/files/{file_id}")
        assert response.status_code == 200, response.text[:300]
        return response.json() if response.json()["status"] in CHECKED else None

    return wait_until(checked, timeout, lambda: f"file {file_id} to be checked", 0.05)
