"""``sqlweave run`` writes the executed notebook atomically (README): a writer killed after it
wrote every byte but before it committed them leaves the previous notebook whole, and
readers never see the new one half-written.

The writer is a child process paused at its ``fsync`` (the new text is then complete in a
temporary file) and killed there with SIGKILL, which goes to the child alone.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from sqlweave.runner import write_atomic

#: the child: writes a notebook with sqlweave.runner.write_atomic, pausing at every fsync
WRITER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import nbformat
    from sqlweave.runner import write_atomic

    real_fsync = os.fsync

    def paused_fsync(fd):
        real_fsync(fd)
        print("paused", flush=True)
        sys.stdin.readline()  # the parent kills us while we wait here

    os.fsync = paused_fsync
    cells = [nbformat.v4.new_code_cell(f"new_{i} = {i}") for i in range(2000)]
    write_atomic(nbformat.v4.new_notebook(cells=cells), Path(sys.argv[1]))
    """
)


def _notebook(source: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])


@pytest.mark.process
def test_a_writer_killed_before_it_commits_leaves_the_old_notebook_whole(tmp_path: Path) -> None:
    out = tmp_path / "out.ipynb"
    write_atomic(_notebook("old = 1"), out)
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "paused"
        # every byte of the new notebook is written: a reader still gets the old one whole
        assert [c.source for c in nbformat.read(out, as_version=4).cells] == ["old = 1"]
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
    nb = nbformat.read(out, as_version=4)
    nbformat.validate(nb)
    assert [c.source for c in nb.cells] == ["old = 1"]
    # an uninterrupted write replaces it
    write_atomic(_notebook("new = 2"), out)
    assert [c.source for c in nbformat.read(out, as_version=4).cells] == ["new = 2"]
