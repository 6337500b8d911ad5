"""/docs renders the OpenAPI document in a real headless Chromium, served by gunicorn, offline,
under the report pages' Content-Security-Policy (no inline script), and no other site frames it."""

import re

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from .support import ApiClient, Stack
from .support.browser import chromium, console_errors, save_screenshot

pytestmark = pytest.mark.integration

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
RENDER_TIMEOUT = 30.0
# What Swagger UI shows instead of the operations when it cannot render a document.
ERROR_SELECTORS = ".version-pragma, .errors-wrapper"
ERROR_TEXTS = ("Unable to render this definition", "Failed to load API definition")


def operations(spec: dict) -> set[tuple[str, str, str]]:
    """(method, path, operationId) of every operation in an OpenAPI document."""
    return {
        (method, path, item[method].get("operationId", ""))
        for path, item in spec["paths"].items()
        for method in HTTP_METHODS
        if method in item
    }


def rendered_or_failed(driver: WebDriver) -> bool:
    """Swagger UI has either listed operations or shown why it could not."""
    return bool(driver.find_elements(By.CSS_SELECTOR, f".opblock, {ERROR_SELECTORS}"))


def rendered_operations(driver: WebDriver) -> set[tuple[str, str, str]]:
    """(method, path, operationId) of every operation block on the page."""
    found = set()
    for block in driver.find_elements(By.CSS_SELECTOR, ".opblock"):
        method = block.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text.lower()
        path = block.find_element(By.CSS_SELECTOR, ".opblock-summary-path").get_attribute(
            "data-path"
        )
        ids = block.find_elements(By.CSS_SELECTOR, ".opblock-summary-operation-id")
        found.add((method, path or "", ids[0].text if ids else ""))
    return found


def test_docs_lists_every_operation_of_the_document_without_an_error(
    stack: Stack, anon: ApiClient, tmp_path
) -> None:
    spec = anon.get("/openapi.json").json()
    expected = operations(spec)
    with chromium(tmp_path) as driver:
        driver.get(f"{stack.base_url}/docs")
        WebDriverWait(driver, RENDER_TIMEOUT).until(rendered_or_failed)
        shot = save_screenshot(driver, "docs")
        print(f"\nscreenshot of /docs: {shot}")
        body = driver.find_element(By.TAG_NAME, "body").text
        errors = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ERROR_SELECTORS)]
        assert errors == [], f"Swagger UI shows an error: {errors} (screenshot {shot})"
        assert not [t for t in ERROR_TEXTS if t in body], body[:2000]
        assert rendered_operations(driver) == expected
        assert console_errors(driver) == []


def test_docs_and_its_files_send_a_csp_without_inline_script_and_refuse_frames(
    anon: ApiClient,
) -> None:
    page = anon.get("/docs")
    assert page.status_code == 200, page.text
    for path in ("/docs", "/docs/static/swagger-ui-bundle.js", "/openapi.json"):
        headers = anon.get(path).headers
        csp = headers.get("Content-Security-Policy", "")
        directives = dict(d.strip().partition(" ")[::2] for d in csp.split(";") if d.strip())
        assert directives.get("frame-ancestors") == "'none'", (path, csp)
        assert directives.get("default-src") == "'self'" and "script-src" not in directives, csp
        assert headers.get("X-Frame-Options") == "DENY", (path, headers)
        assert headers.get("X-Content-Type-Options") == "nosniff", (path, headers)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.DOTALL)
    assert scripts and all(
        'src="/docs/static/' in attrs and not body.strip() for attrs, body in scripts
    )


def test_a_page_of_another_origin_cannot_show_docs_in_a_frame(stack: Stack, tmp_path) -> None:
    other_origin = stack.base_url.replace("127.0.0.1", "localhost")  # same server, other origin
    assert other_origin != stack.base_url, stack.base_url
    with chromium(tmp_path) as driver:
        driver.get(f"{other_origin}/healthz")  # any page of that origin, then a frame in it
        driver.execute_script(
            "var f = document.createElement('iframe'); f.src = arguments[0];"
            "document.body.appendChild(f);",
            f"{stack.base_url}/docs",
        )
        refusals: list[str] = []

        def refused() -> bool:
            refusals.extend(m for m in console_errors(driver) if "frame-ancestors" in m)
            return bool(refusals)

        WebDriverWait(driver, RENDER_TIMEOUT).until(
            lambda _: refused(), "no frame-ancestors refusal of /docs in the console"
        )
        assert "'none'" in refusals[0], refusals
