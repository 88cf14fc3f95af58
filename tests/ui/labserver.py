"""A JupyterLab server for browser tests and benchmarks: its own Jupyter dirs, port and token,
this checkout's extension build first on ``JUPYTER_PATH``, killed with its kernels on stop."""

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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "sqlweave" / "labextension"
CHROMIUM = Path("/usr/bin/chromium")
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """A running ``jupyter lab`` (its URL, token and notebook folder)."""

    def __init__(self, root: Path, home: Path, extension: Path | None = None) -> None:
        self.root = root
        self.port = _free_port()
        self.token = uuid.uuid4().hex
        self.url = f"http://127.0.0.1:{self.port}"
        path = home / "jupyter_path"
        (path / "labextensions").mkdir(parents=True)
        (path / "labextensions" / "sqlweave").symlink_to(extension or BUILT)
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
