"""One pipeline notebook run on its own (``sqlweave run``): the pipeline's warehouse, or a hint.

A pipeline notebook reads tables other notebooks of the pipeline saved in the project
warehouse (``PROJECT/.sqlweave/warehouse``), which only the pipeline runner names to its
kernels. Run alone, the notebook gets that warehouse when one exists at or above its folder
within its project (see :func:`sqlweave.project.project_warehouse`, the lookup a kernel
JupyterLab starts for the notebook uses too); otherwise a failure says how to run it.

>>> pipeline_hint("no/such/notebook.ipynb") is None  # nothing it reads is written beside it
True
"""

from __future__ import annotations

import os
from pathlib import Path

from ..project import PROJECT_MARKERS, WAREHOUSE_PARTS, project_folders, project_warehouse
from ..warehouse import WAREHOUSE_ENV
from .dependencies import notebook_dependencies, read_notebook
from .errors import PipelineError

__all__ = [
    "PROJECT_MARKERS",
    "WAREHOUSE_ENV",
    "WAREHOUSE_PARTS",
    "pipeline_hint",
    "project_folders",
    "project_warehouse",
    "upstream_tables",
]


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
