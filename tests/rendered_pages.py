"""A page as the server renders it (from Django's test client), opened in Debian
chromium with its static files: for browser checks that need no running server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
STATIC = Path(__file__).resolve().parents[1] / "src" / "openect" / "web" / "static"
ORIGIN = "http://openect.test"
KINDS = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


@contextmanager
def rendered(html: bytes, path: str, width: int, height: int) -> Iterator[Any]:
    """A chromium page showing ``html`` at ``path``, ``width`` x ``height`` pixels."""
    from django.conf import settings
    from playwright.sync_api import Route, sync_playwright

    def serve(route: Route) -> None:
        asked = route.request.url.removeprefix(ORIGIN).split("?")[0]
        if asked == path:
            route.fulfill(status=200, body=html, content_type="text/html; charset=utf-8")
        elif asked.startswith(settings.STATIC_URL):
            file = STATIC / asked.removeprefix(settings.STATIC_URL)
            kind = KINDS.get(file.suffix, "application/octet-stream")
            route.fulfill(status=200, body=file.read_bytes(), content_type=kind)
        else:
            route.fulfill(status=404, body=b"")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.route(f"{ORIGIN}/**", serve)
            page.goto(f"{ORIGIN}{path}")
            yield page
        finally:
            browser.close()
