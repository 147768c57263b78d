"""/docs and /redoc load Swagger UI and ReDoc from the package itself: no CDN, no outside host."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shadowlens.api.app import create_app
from shadowlens.api.server import build_server

CHROMIUM = Path("/usr/bin/chromium")
# Every URL a page names: attributes, and the spec URL in Swagger UI's inline script.
_URLS = re.compile(r"""(?:src|href|spec-url)="([^"]*)"|url: '([^']*)'""")


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(sessions=None, tokens=frozenset({"t"})))  # type: ignore[arg-type]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_every_asset_is_local_and_answers(client: TestClient, page: str) -> None:
    answer = client.get(page)
    assert answer.headers["content-security-policy"].startswith("default-src 'self';")
    html = answer.text
    urls = [a or b for a, b in _URLS.findall(html)]
    assert len(urls) >= 3 and "://" not in html and "fonts.googleapis" not in html
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        answer = client.get(url)
        assert answer.status_code == 200 and len(answer.content) > 100, url


@pytest.fixture
def api_url() -> Iterator[str]:
    """The API served by uvicorn on a loopback port, in a thread."""
    server = build_server(create_app(sessions=None, tokens=frozenset({"t"})),  # type: ignore[arg-type]
                          host="127.0.0.1", port=0)  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.02)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    yield f"http://{host}:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_chromium_renders_both_pages_with_no_outside_host(api_url: str) -> None:
    from playwright.sync_api import Route, sync_playwright

    asked: list[str] = []

    def only_loopback(route: Route) -> None:
        asked.append(route.request.url)
        if route.request.url.startswith(api_url + "/"):
            route.continue_()
        else:
            route.abort()

    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]  # fmt: skip
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        page = browser.new_page()
        page.route("**/*", only_loopback)
        page.goto(f"{api_url}/docs")
        page.wait_for_selector(".opblock", timeout=30_000)  # Swagger UI drew the operations
        assert "/api/v1/detections" in page.inner_text("#swagger-ui")
        page.goto(f"{api_url}/redoc")
        heading = page.locator("h2", has_text="List Detections").first  # ReDoc's operation
        heading.wait_for(timeout=30_000)
        browser.close()
    outside = [url for url in asked if not url.startswith(api_url + "/")]
    assert asked and outside == []
