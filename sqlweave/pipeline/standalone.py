"""One pipeline notebook run on its own (``sqlweave run``): the pipeline's warehouse, or a hint.

A pipeline notebook reads tables other notebooks of the pipeline saved in the project
warehouse (``PROJECT/.sqlweave/warehouse``), which only the pipeline runner names to its
kernels. Run alone, the notebook gets that warehouse when one exists at or above its folder
within its project (see :func:`project_warehouse`); otherwise a failure says how to run it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..warehouse import WAREHOUSE_ENV
from .dependencies import notebook_dependencies, read_notebook
from .errors import PipelineError
from .journal import JOURNAL_PATH

__all__ = [
    "WAREHOUSE_ENV",
    "pipeline_hint",
    "project_folders",
    "project_warehouse",
    "upstream_tables",
]

WAREHOUSE_PARTS = (".sqlweave", "warehouse")  # under the project folder
#: a folder holding one of these is a project's root: the warehouse lookup stops there.
#: Not ``.sqlweave`` alone: every folder a notebook ran in has one (its lineage store).
PROJECT_MARKERS = (JOURNAL_PATH.parent.as_posix(), ".git")


def project_warehouse(notebook: str | os.PathLike[str]) -> Path | None:
    """The project warehouse of a notebook run alone: ``.sqlweave/warehouse`` in the nearest
    folder at or above the notebook's that holds one, looking no further than the project.

    The project ends at the first folder (from the notebook's upwards) that holds
    ``.sqlweave/pipeline`` (where pipeline runs keep their journal: the pipeline's project
    folder) or a ``.git`` entry (a repository's root), and never goes above the home folder:
    a notebook outside any project does not pick up an unrelated warehouse higher up.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = Path(tmp)
    ...     (root / "repo" / ".git").mkdir(parents=True)
    ...     nb = root / "repo" / "pipe" / "clean.ipynb"
    ...     (root / ".sqlweave" / "warehouse").mkdir(parents=True)  # outside the repository
    ...     before = project_warehouse(nb)
    ...     (root / "repo" / ".sqlweave" / "warehouse").mkdir(parents=True)
    ...     before, project_warehouse(nb) == (root / "repo" / ".sqlweave" / "warehouse").resolve()
    (None, True)
    """
    folder = Path(notebook).resolve().parent
    for candidate in project_folders(folder):
        warehouse = candidate.joinpath(*WAREHOUSE_PARTS)
        if warehouse.is_dir():
            return warehouse
    return None


def project_folders(folder: Path) -> list[Path]:
    """``folder`` and its parents up to the project boundary (see :func:`project_warehouse`)."""
    home = _home()
    out = []
    for candidate in (folder, *folder.parents):
        out.append(candidate)
        if any((candidate / marker).exists() for marker in PROJECT_MARKERS):
            break
        if candidate == home:
            break
    return out


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError):  # no home folder known
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
