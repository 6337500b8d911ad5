"""/docs renders the OpenAPI document in a real headless Chromium, served by gunicorn, offline."""

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
