"""Small builders of notebook files for pipeline tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat


def write_notebook(
    path: Path,
    *cells: str,
    metadata: dict[str, Any] | None = None,
    tags: dict[int, list[str]] | None = None,
) -> Path:
    """A notebook of code cells at ``path``; ``tags`` maps a cell index to its tags."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    for i, t in (tags or {}).items():
        nb.cells[i].metadata["tags"] = t
    if metadata is not None:
        nb.metadata["sqlweave"] = metadata
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
