"""/docs works without internet: headless Chromium, which can reach nothing but 127.0.0.1, renders the
operations of the real Serve app's API docs from assets the app serves itself. A plain FastAPI app (CDN
assets) in the same browser renders nothing, so the browser really is offline."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.serve_app.test_ui import CHROME_FLAGS

pytestmark = pytest.mark.slow
# Every host name but the loopback resolves to nothing, and every connection that is not local goes to a
# proxy that is not there: no request can leave the machine.
OFFLINE_FLAGS = (
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
)


@pytest.fixture
def offline_browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    for path in ("/usr/bin/chromium", "/usr/bin/chromedriver"):  # missing Chromium fails, never skips
        assert Path(path).exists(), f"{path} missing: install the Debian packages chromium and chromium-driver"
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in (*CHROME_FLAGS, *OFFLINE_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def requested_urls(driver: Any) -> list[str]:
    """Every URL the page asked for since the last call (Chrome's performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def rendered_paths(driver: Any, timeout: float = 30.0) -> list[str]:
    """The operation paths Swagger UI drew (empty if it drew none within ``timeout``)."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, timeout).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
    except TimeoutException:
        return []
    return [
        e.get_attribute("data-path") or e.text for e in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    ]


def test_docs_render_their_operations_offline(serve_url: str, offline_browser: Any) -> None:
    requested_urls(offline_browser)  # drain what the browser loaded on its own (its new-tab page)
    offline_browser.get(f"{serve_url}/docs")
    paths = rendered_paths(offline_browser, timeout=60)
    for path in ("/v1/score", "/v1/alertmanager", "/v1/feedback", "/healthz"):
        assert path in paths, paths
    spec = httpx.get(f"{serve_url}/openapi.json", timeout=30).json()
    assert set(paths) <= set(spec["paths"])
    urls = requested_urls(offline_browser)
    assert f"{serve_url}/openapi.json" in urls and any(u.endswith("/swagger-ui-bundle.js") for u in urls)
    outside = [u for u in urls if not u.startswith((serve_url, "data:", "blob:", "chrome:", "chrome-extension:"))]
    assert outside == []
    # ReDoc is served from the app too
    redoc = httpx.get(f"{serve_url}/redoc", timeout=30).text
    assert "cdn." not in redoc and "fonts.googleapis" not in redoc and "/docs/static/redoc.standalone.js" in redoc


def test_the_browser_is_really_offline_for_cdn_docs(offline_browser: Any) -> None:
    """The control: FastAPI's default /docs (Swagger UI from a CDN) draws nothing in the same browser."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI(title="cdn-docs")

    @app.get("/ping")
    def ping() -> dict[str, str]:
        return {"ok": "yes"}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.1)
        assert "cdn.jsdelivr.net" in httpx.get(f"{url}/docs").text
        requested_urls(offline_browser)
        offline_browser.get(f"{url}/docs")
        assert rendered_paths(offline_browser, timeout=10) == []
        assert any("cdn.jsdelivr.net" in u for u in requested_urls(offline_browser))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
