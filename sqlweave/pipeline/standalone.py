"""One pipeline notebook run on its own (``sqlweave run``): the pipeline's warehouse, or a hint.

A pipeline notebook reads tables other notebooks of the pipeline saved in the project
warehouse (``PROJECT/.sqlweave/warehouse``), which only the pipeline runner names to its
kernels. Run alone, the notebook gets that warehouse when one exists above it; otherwise a
failure says how to run it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..warehouse import WAREHOUSE_ENV
from .dependencies import notebook_dependencies, read_notebook
from .errors import PipelineError

__all__ = ["WAREHOUSE_ENV", "pipeline_hint", "project_warehouse", "upstream_tables"]

WAREHOUSE_PARTS = (".sqlweave", "warehouse")  # under the project folder


def project_warehouse(notebook: str | os.PathLike[str]) -> Path | None:
    """The nearest ``.sqlweave/warehouse`` folder at or above the notebook's folder.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = Path(tmp)
    ...     before = project_warehouse(root / "pipe" / "clean.ipynb")
    ...     (root / ".sqlweave" / "warehouse").mkdir(parents=True)
    ...     after = project_warehouse(root / "pipe" / "clean.ipynb")
    ...     before, after == (root / ".sqlweave" / "warehouse").resolve()
    (None, True)
    """
    folder = Path(notebook).resolve().parent
    for candidate in (folder, *folder.parents):
        warehouse = candidate.joinpath(*WAREHOUSE_PARTS)
        if warehouse.is_dir():
            return warehouse
    return None


def upstream_tables(notebook: str | os.PathLike[str]) -> dict[str, str]:
    """Tables the notebook reads that another notebook of its folder writes: table -> writer."""
    path = Path(notebook).resolve()
    try:
        reads = notebook_dependencies(read_notebook(path), path.name).reads
    except PipelineError:
        return {}
    out: dict[str, str] = {}
    for other in sorted(path.parent.glob("*.ipynb")):
        if other == path or other.name.endswith(".out.ipynb"):
            continue
        try:
            writes = notebook_dependencies(read_notebook(other), other.name).writes
        except PipelineError:
            continue
        for table in sorted(reads & writes):
            out.setdefault(table, other.name)
    return out


def pipeline_hint(notebook: str | os.PathLike[str]) -> str | None:
    """What to do when a pipeline notebook run alone misses its upstream tables, or None."""
    upstream = upstream_tables(notebook)
    if not upstream:
        return None
    path = Path(notebook)
    tables = ", ".join(f"{t} (from {w})" for t, w in upstream.items())
    return (
        f"this notebook reads tables written by other notebooks of the pipeline: {tables}.\n"
        f"Run `sqlweave pipeline run {path.parent.as_posix() or '.'} --select {path.stem}` "
        f"(after a full `sqlweave pipeline run` once), or set SQLWEAVE_WAREHOUSE to the "
        "pipeline's warehouse folder."
    )
