"""A small headless-browser helper for tests of static HTML (Debian's chromium driven by Playwright's Python API).

Only the Playwright *package* is used (``pip install playwright``, no ``playwright install``): it drives the
system chromium at ``/usr/bin/chromium`` (``DETBENCH_CHROMIUM`` overrides the path) through the Chrome DevTools
protocol, headless, sandbox off (containers), with background networking, component updates, sync and QUIC off,
and with a fresh empty profile per session, so nothing leaks between runs and no request leaves the machine.

Usage::

    reason = browser_unavailable()          # None, or why tests must skip ("chromium not found at ...")
    with chromium_page(tmp_path) as page:   # a page whose console errors, page errors and failed
        page.goto(url)                      # requests are collected in page.problems
        assert page.problems == []

:func:`serve_folder` serves a folder over ``http://127.0.0.1:<port>/`` from a thread (a "static host").
Standard library and playwright only, no pytest, so scripts under ``benchmarks/`` can use it too.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["CHROMIUM_ARGS", "browser_unavailable", "chromium_executable", "chromium_page", "serve_folder"]

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_executable() -> str | None:
    """The chromium binary: ``$DETBENCH_CHROMIUM``, ``/usr/bin/chromium`` or ``chromium`` on PATH (None if none)."""
    for candidate in (os.environ.get("DETBENCH_CHROMIUM"), DEFAULT_CHROMIUM, shutil.which("chromium")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def browser_unavailable() -> str | None:
    """Why the browser cannot run here (a message for a skip), or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright; no browser download needed)"
    if chromium_executable() is None:
        return (
            f"chromium not found at {DEFAULT_CHROMIUM} or on PATH (apt-get install chromium; "
            "or set DETBENCH_CHROMIUM)"
        )
    return None


@contextlib.contextmanager
def chromium_page(profile_parent: str | Path | None = None, viewport: tuple[int, int] = (1280, 900)) -> Iterator[Any]:
    """A Playwright page in a fresh headless chromium; ``page.problems`` collects every console error, uncaught
    page error, failed request and HTTP error response as a line of text."""
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    if executable is None:
        raise RuntimeError(browser_unavailable() or "chromium not found")
    with tempfile.TemporaryDirectory(prefix="chromium-profile-", dir=profile_parent) as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=executable,
            headless=True,
            args=list(CHROMIUM_ARGS),
            viewport={"width": viewport[0], "height": viewport[1]},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            problems: list[str] = []
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
            page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
            page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
            page.problems = problems
            yield page
        finally:
            context.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        pass


@contextlib.contextmanager
def serve_folder(folder: str | Path) -> Iterator[str]:
    """Serve ``folder`` read-only over HTTP on 127.0.0.1 (a free port) from a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
