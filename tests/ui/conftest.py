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
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "sqlweave" / "labextension"
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "tests" / "ui" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: generous: a 2-core machine shared with other work
SERVER_START_S = 90
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """A running ``jupyter lab`` (its URL, token and notebook folder)."""

    def __init__(self, root: Path, home: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.token = uuid.uuid4().hex
        self.url = f"http://127.0.0.1:{self.port}"
        path = home / "jupyter_path"
        (path / "labextensions").mkdir(parents=True)
        (path / "labextensions" / "sqlweave").symlink_to(BUILT)
        self.env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTER_PATH": str(path),
            "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
            "IPYTHONDIR": str(home / "ipython"),
            # the kernel imports this checkout's sqlweave
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        self.log = home / "server.log"
        args = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--FileContentsManager.delete_to_trash=False",
        ]
        if os.geteuid() == 0:
            args.append("--allow-root")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                args,
                cwd=root,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its kernels die with it, and no signal reaches pytest
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited:\n{self.log.read_text()[-3000:]}")
            status = f"{self.url}/api/status?token={self.token}"
            with contextlib.suppress(OSError), urllib.request.urlopen(status, timeout=2):
                return
            time.sleep(0.2)  # polling a starting server: there is no event to wait on
        raise RuntimeError(
            f"jupyter lab not ready after {SERVER_START_S}s:\n{self.log.read_text()[-3000:]}"
        )

    def lab_url(self, notebook: str) -> str:
        # ?reset: no workspace restores tabs of an earlier test
        return f"{self.url}/lab/tree/{notebook}?reset&token={self.token}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)


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
