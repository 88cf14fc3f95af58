"""Real JupyterLab in Debian's Chromium, driven by Python Playwright.

One Lab server per test session, with its own Jupyter dirs, port and token; the extension
under test is this checkout's build (``sqlweave/labextension``), put first on
``JUPYTER_PATH`` so a stale installed copy cannot stand in for it. Playwright never downloads
a browser: it drives ``/usr/bin/chromium``. Without Chromium, JupyterLab or the built
extension the tests skip on a developer's machine and fail under CI (``CI`` set), where
``.ci/run`` installs all three.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest

from .labserver import BUILT, CHROMIUM, CHROMIUM_ARGS, ROOT, LabServer

SCREENSHOTS = ROOT / "tests" / "ui" / "screenshots"
DEFAULT_TIMEOUT_MS = 60_000

pytestmark = pytest.mark.browser


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium)"
    for module in ("jupyterlab", "playwright"):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed (pip install -e '.[dev]')"
    if not (BUILT / "package.json").exists():
        return f"the extension is not built in {BUILT} (make labextension)"
    return None


@pytest.fixture(autouse=True, scope="session")
def _environment() -> None:
    why = _missing()
    if why is not None:
        if os.environ.get("CI"):  # .ci/run installs all of it: missing is a failure there
            pytest.fail(f"browser tests cannot run: {why}")
        pytest.skip(why)


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    home = tmp_path_factory.mktemp("lab-home")
    root = tmp_path_factory.mktemp("lab-root")
    server = LabServer(root, home)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    # never a downloaded browser: Debian's chromium
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    pg = context.new_page()
    try:
        yield pg
    finally:
        reports = [getattr(request.node, f"report_{when}", None) for when in ("setup", "call")]
        if any(r is not None and r.failed for r in reports):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(Exception):
                pg.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"), full_page=True)
        context.close()
