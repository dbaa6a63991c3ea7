"""The UI behind a path prefix: no absolute /v1/ or /ui/ URL in its files, a relative /ui redirect, and the
real pages in headless Chromium loading their data with the app mounted under /alertsieve/ only."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from alertsieve.bundle import ModelBundle
from alertsieve.schema import Verdict
from alertsieve.store import LocalStore
from serve_app import live_safety_api, overrides_api, suppressed, ui
from serve_app.app_context import STATE_NAME, AppContext
from serve_app.suppressed import DecisionsView
from tests.conftest import TOKEN, free_port
from tests.serve_app.test_ui import browser, champion_view, describing  # noqa: F401 - browser: the Chromium fixture

PREFIX = "/alertsieve"
# a quoted URL (HTML attribute, JS string) that starts at the server's root: it would skip a proxy's prefix
ABSOLUTE_APP_URL = re.compile(r"""["'`]/(?:v1|ui)(?:[/?#"'`]|$)""")


def ui_app(store: Path, bundle: ModelBundle) -> FastAPI:
    """The two pages and every API they call: the Ingress's routers, GET /v1/decisions as the Ingress answers
    it (``read_decisions``), and a stand-in for the router's describe."""
    app = FastAPI()
    for router in (ui.router, overrides_api.router, suppressed.router, live_safety_api.router):
        app.include_router(router)
    records = LocalStore(store)
    setattr(app.state, STATE_NAME, AppContext.of(describing(champion_view(bundle)), records, TOKEN, lambda ref: bundle))

    @app.get("/v1/decisions")
    def decisions(decision: Verdict | None = None, since: datetime | None = None, limit: int = 100) -> DecisionsView:
        return suppressed.read_decisions(records, decision, None, since, limit)

    return app


def static_files() -> list[Any]:
    return [f for f in (resources.files("serve_app") / "static").iterdir() if f.name.endswith((".html", ".js"))]


def test_no_static_file_names_an_absolute_app_url() -> None:
    files = static_files()
    assert {f.name for f in files} >= {"index.html", "suppressed.html", "app.js", "common.js", "suppressed.js"}
    found = {f.name: ABSOLUTE_APP_URL.findall(f.read_text(encoding="utf-8")) for f in files}
    assert {name: urls for name, urls in found.items() if urls} == {}
    assert ABSOLUTE_APP_URL.search('api("/v1/thresholds")') and ABSOLUTE_APP_URL.search('href="/ui"')  # the check bites


def test_ui_redirects_to_its_folder_relatively(tmp_path: Path, small_bundle: ModelBundle) -> None:
    with TestClient(ui_app(tmp_path, small_bundle)) as client:
        moved = client.get("/ui", follow_redirects=False)
        assert moved.status_code == 307 and moved.headers["location"] == "ui/"  # keeps any prefix in front
        page = client.get("/ui/")
        assert page.status_code == 200 and '<link rel="stylesheet" href="static/style.css">' in page.text
        # what the pages' relative URLs resolve to from /ui/ and /ui/suppressed
        for path in ("/ui/static/style.css", "/ui/static/common.js", "/ui/suppressed/static/suppressed.js"):
            assert client.get(path).status_code == 200, path


@pytest.fixture
def prefixed_url(tmp_path: Path, small_bundle: ModelBundle) -> Iterator[str]:
    """The UI app served under PREFIX only (as behind a proxy that strips it): nothing answers at /v1 or /ui."""
    import uvicorn

    outer = FastAPI()
    outer.mount(PREFIX, ui_app(tmp_path, small_bundle))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(outer, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.slow
def test_the_pages_load_their_data_behind_a_path_prefix(prefixed_url: str, browser: Any) -> None:  # noqa: F811
    import httpx
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    assert httpx.get(f"{prefixed_url}/v1/thresholds").status_code == 404  # only the prefixed paths answer
    wait = WebDriverWait(browser, 30)

    def ready(driver: Any) -> bool:
        return bool(driver.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "true")

    browser.get(f"{prefixed_url}{PREFIX}/ui")
    wait.until(ready, "the thresholds page did not load its data")
    assert browser.current_url.split("#")[0] == f"{prefixed_url}{PREFIX}/ui/"
    assert browser.find_elements(By.CSS_SELECTOR, "#services tbody tr[data-service]")  # GET v1/thresholds
    assert "system-ui" in browser.execute_script("return getComputedStyle(document.body).fontFamily")  # style.css

    browser.find_element(By.LINK_TEXT, "suppressed alerts").click()
    wait.until(lambda d: d.current_url.startswith(f"{prefixed_url}{PREFIX}/ui/suppressed") and ready(d))
    assert browser.find_element(By.ID, "summary").text.startswith("0 suppressed alerts")  # GET v1/decisions

    browser.find_element(By.LINK_TEXT, "thresholds").click()
    wait.until(lambda d: d.current_url.split("#")[0] == f"{prefixed_url}{PREFIX}/ui/" and ready(d))
