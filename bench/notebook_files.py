"""Notebook files made from code, for the benchmarks and the tests (``pythonpath = ["bench"]``
in pyproject.toml puts this folder on the tests' path, as for ``tpchdata``).

    >>> nb = code_notebook("x = 1", ("named", "y = 2"))
    >>> [(c.source, c.id) for c in nb.cells][1], nb.metadata.kernelspec.name
    (('y = 2', 'named'), 'python3')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

#: the kernel every notebook here runs in
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}

Cell = str | tuple[str, str]  # source, or (cell id, source)


def code_notebook(
    *cells: Cell,
    metadata: dict[str, Any] | None = None,
    tags: dict[int, list[str]] | None = None,
) -> nbformat.NotebookNode:
    """A python3 notebook of code cells; ``metadata`` goes under ``metadata.sqlweave``,
    ``tags`` maps a cell's index to its tags."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.cells = [
        nbformat.v4.new_code_cell(c)
        if isinstance(c, str)
        else nbformat.v4.new_code_cell(c[1], id=c[0])
        for c in cells
    ]
    for i, t in (tags or {}).items():
        nb.cells[i].metadata["tags"] = t
    if metadata is not None:
        nb.metadata["sqlweave"] = metadata
    return nb


def write_notebook(
    path: Path,
    *cells: Cell,
    metadata: dict[str, Any] | None = None,
    tags: dict[int, list[str]] | None = None,
) -> Path:
    """:func:`code_notebook` written to ``path`` (its folder made if need be)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(code_notebook(*cells, metadata=metadata, tags=tags), path)
    return path
