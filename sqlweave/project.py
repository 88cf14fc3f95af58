"""A notebook's project: its folder and the parents up to the project's root, and the project
warehouse found there.

One lookup serves ``sqlweave run`` of a notebook and a kernel JupyterLab starts for it (which
names the notebook in ``JPY_SESSION_NAME``): both use the warehouse the last pipeline run of
the project saved its tables in, so a notebook sees the same tables headless and in Lab.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

#: the project warehouse, under the project folder (where ``sqlweave pipeline run`` keeps it)
WAREHOUSE_PARTS = (".sqlweave", "warehouse")
#: a folder holding one of these is a project's root: the warehouse lookup stops there.
#: ``.sqlweave/pipeline`` is where pipeline runs keep their journal (the pipeline's project
#: folder). Not ``.sqlweave`` alone: every folder a notebook ran in has one (its lineage store).
PROJECT_MARKERS = (".sqlweave/pipeline", ".git")
#: the kernel environment variable jupyter-server (and sqlweave's runner) set to the notebook
NOTEBOOK_ENV = "JPY_SESSION_NAME"


def project_warehouse(notebook: str | os.PathLike[str]) -> Path | None:
    """The project warehouse of a notebook: ``.sqlweave/warehouse`` in the nearest folder at
    or above the notebook's that holds one, looking no further than the project.

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


def kernel_notebook(
    environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Path | None:
    """The notebook a kernel runs, from ``JPY_SESSION_NAME``, or None outside a notebook.

    jupyter-server sets it to the notebook's absolute path (older versions: its path
    relative to the server's root) and starts the kernel in the notebook's folder; a
    relative path not found from the kernel's folder is taken as a file in that folder.

    >>> str(kernel_notebook({"JPY_SESSION_NAME": "pipe/report.ipynb"}, Path("/w/pipe")))
    '/w/pipe/report.ipynb'
    >>> kernel_notebook({}) is None
    True
    """
    name = (os.environ if environ is None else environ).get(NOTEBOOK_ENV)
    if not name:
        return None
    path = Path(name).expanduser()
    if path.is_absolute():
        return path
    here = cwd if cwd is not None else Path.cwd()
    return here / path if (here / path).exists() else here / path.name
