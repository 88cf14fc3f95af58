"""Find the notebooks of a pipeline under the paths given on the command line.

A notebook's key is its path relative to the project folder (POSIX separators), so the
same pipeline planned from another working directory has the same keys.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .errors import PipelineError

NOTEBOOK_SUFFIX = ".ipynb"
#: executed copies written by ``sqlweave run`` next to their source
EXECUTED_SUFFIX = ".out.ipynb"


def project_root(paths: Iterable[str | os.PathLike[str]]) -> Path:
    """The folder holding every path: a directory given alone, else their common parent."""
    resolved = [Path(p).resolve() for p in paths]
    if not resolved:
        raise PipelineError("no pipeline paths given")
    dirs = [p if p.is_dir() else p.parent for p in resolved]
    return Path(os.path.commonpath([str(d) for d in dirs]))


def discover(
    paths: Iterable[str | os.PathLike[str]], exclude: Iterable[str | os.PathLike[str]] = ()
) -> list[Path]:
    """Notebooks named by ``paths`` (files, or folders searched recursively), sorted.

    Hidden folders (``.ipynb_checkpoints``, ``.sqlweave``), executed copies
    (``*.out.ipynb``) and anything under ``exclude`` are skipped.

    Raises:
        PipelineError: a path does not exist or names a file that is not a notebook.
    """
    skip = [Path(p).resolve() for p in exclude]
    found: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise PipelineError(f"no such file or folder: {path}")
        if path.is_file():
            if path.suffix != NOTEBOOK_SUFFIX:
                raise PipelineError(f"{path} is not a notebook (.ipynb)")
            found.add(path.resolve())
            continue
        for nb in path.rglob(f"*{NOTEBOOK_SUFFIX}"):
            rel = nb.relative_to(path).parts
            if any(part.startswith(".") for part in rel) or nb.name.endswith(EXECUTED_SUFFIX):
                continue
            full = nb.resolve()
            if any(full.is_relative_to(s) for s in skip):
                continue
            found.add(full)
    return sorted(found)


def notebook_key(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with ``/`` separators."""
    return path.resolve().relative_to(root).as_posix()
