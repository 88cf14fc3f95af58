"""Kernels started headless (``sqlweave run``, pipelines) listen on no TCP port: IPC sockets in
a private folder that goes with the kernel; failing cells are numbered as the user's notebook
numbers them, parameters injected or not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from notebook_files import write_notebook

from sqlweave.kernels import IPC_SUPPORTED
from sqlweave.runner import CellFailure

pytestmark = pytest.mark.process
SQLWEAVE = [sys.executable, "-m", "sqlweave.cli"]

#: a cell that reports, from inside the kernel, how the kernel is reachable
SOCKETS = """\
import ipykernel, json, os, psutil
info = json.load(open(ipykernel.get_connection_file()))
folder = os.path.dirname(info["ip"])
print(json.dumps({
    "transport": info["transport"],
    "folder": folder,
    "mode": os.stat(folder).st_mode & 0o777,
    "files": sorted(os.listdir(folder)),
    "tcp": [c.laddr.port for c in psutil.Process().net_connections(kind="tcp")],
    # ipykernel's own pipe for output of forked children: always 127.0.0.1, with a token
    "fork_pipe": getattr(get_ipython().kernel.iopub_thread, "_pipe_port", None),
}))"""


@pytest.mark.skipif(not IPC_SUPPORTED, reason="no Unix sockets: jupyter_client uses TCP")
def test_sqlweave_run_kernel_uses_private_ipc_sockets_and_removes_them(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "nb.ipynb", SOCKETS)
    proc = subprocess.run(
        [*SQLWEAVE, "run", str(path), "-o", str(tmp_path / "out.ipynb")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "TCP" not in proc.stderr  # ipykernel's warning about unencrypted TCP
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    seen = json.loads(out.cells[0].outputs[0]["text"])
    assert seen["transport"] == "ipc"
    assert [p for p in seen["tcp"] if p != seen["fork_pipe"]] == []  # no channel on TCP
    assert seen["mode"] == 0o700  # only this user can reach the sockets
    assert "kernel.json" in seen["files"] and any(
        f.startswith("kernel-ipc-") for f in seen["files"]
    )
    assert not Path(seen["folder"]).exists()  # removed with the kernel


def test_sqlweave_run_numbers_cells_as_the_notebook_does_with_parameters(tmp_path: Path) -> None:
    path = write_notebook(
        tmp_path / "p.ipynb",
        "min_month = 1",
        "x = min_month * 2",
        "1 / 0",
        tags={0: ["parameters"]},
    )
    proc = subprocess.run(
        [*SQLWEAVE, "run", str(path), "-p", "min_month=2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    # the user's third cell; its In [4] counts the injected cell, and says so
    assert "cell 3 ([4] in the executed notebook, with the injected parameters) failed:" in (
        proc.stderr
    ), proc.stderr
    assert "1 / 0" in proc.stderr


def test_a_failure_in_the_injected_cell_is_named_so() -> None:
    failure = CellFailure(1, 2, "x = 1", "SyntaxError", injected_at=1)
    assert failure.number is None
    assert failure.summary().startswith("the injected parameters cell [2] failed:")
    before = CellFailure(0, 1, "import x", "ModuleNotFoundError", injected_at=1)
    assert before.number == 1 and before.summary().startswith("cell 1 [1] failed:")
