"""Which saved notebook a kernel runs, when the frontend does not say.

JupyterLab, Notebook 7, VS Code and ``sqlweave run`` tell the kernel the notebook's path
(``JPY_SESSION_NAME``, ``__session__``, ``__vsc_ipynb_file__``) and each cell's id (the
execute request's ``cellId``). ``jupyter nbconvert --execute`` and plain nbclient (0.11, with
jupyter_client 8) send neither: only the kernel's working directory is the notebook's folder.
Lineage then recorded the cells under ``<interactive>`` with ids made from their text, and
``%lineage --folder`` counted the notebook twice.

A :class:`NotebookFinder` looks at the saved notebooks of that folder:

* a cell id without a path: the notebook holding a cell of that id (ids are random per
  notebook);
* neither: the cells' sources, in run order. nbclient runs a notebook's code cells top to
  bottom, so a notebook stays a candidate while each cell run is one of its cells further
  down; once one candidate is left, it is the notebook, and the matched cell gives the id.
  A cell found in no notebook (a parameters cell papermill injected) says nothing.

Candidates whose matched cells have one id are copies of one notebook (``x.ipynb`` and the
``x.nbconvert.ipynb`` or ``x-Copy1.ipynb`` made from it keep the ids): the shortest name is
taken, so every run of ``x.ipynb`` lands on the same key whatever copies appear beside it.
Zero candidates, or several notebooks of their own, leave the kernel ``<interactive>``.
Notebooks are parsed once per change (the cache is keyed by modification time and size).

    >>> import json, shutil, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> def save(name, *cells):
    ...     doc = {"cells": [{"cell_type": "code", "id": i, "source": s} for i, s in cells]}
    ...     (folder / name).write_text(json.dumps(doc))
    >>> save("p.ipynb", ("a1", "%load_ext sqlweave"), ("a2", "%sql SELECT 1"))
    >>> save("q.ipynb", ("b1", "%load_ext sqlweave"), ("b2", "%sql SELECT 2"))
    >>> finder = NotebookFinder(folder)
    >>> finder.by_source("%load_ext sqlweave") is None  # both notebooks begin so
    True
    >>> finder.by_source("%sql SELECT 2")
    ('q.ipynb', 'b2')
    >>> finder.by_cell_id("a2")
    'p.ipynb'
    >>> shutil.rmtree(folder)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

#: the saved notebooks looked at: those directly in the kernel's folder
NOTEBOOK_GLOB = "*.ipynb"


@dataclass(frozen=True)
class SavedNotebook:
    """A saved notebook's code cells: ids and sources, in order."""

    name: str
    ids: tuple[str | None, ...]
    sources: tuple[str, ...]


class NotebookFinder:
    """Finds the saved notebook (of ``folder``) a kernel runs, from its cells.

    Args:
        folder: the kernel's working directory (nbclient starts it in the notebook's folder).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[str, tuple[tuple[int, int], SavedNotebook | None]] = {}
        #: candidate notebook -> index of the first code cell not yet run; None: not started
        self._next: dict[str, int] | None = None

    def by_cell_id(self, cell_id: str) -> str | None:
        """The name of the one saved notebook with a cell ``cell_id``; None for none or several."""
        return _original([nb.name for nb in self._notebooks() if cell_id in nb.ids])

    def by_source(self, source: str) -> tuple[str, str | None] | None:
        """The notebook (and the id of its cell) that the cell with ``source``, run after the
        cells given before, belongs to; None while several notebooks (or none) fit."""
        notebooks = {nb.name: nb for nb in self._notebooks()}
        if not any(source in nb.sources for nb in notebooks.values()):
            return None  # a cell no saved notebook has (injected parameters) tells nothing
        candidates = self._next if self._next is not None else dict.fromkeys(notebooks, 0)
        kept: dict[str, int] = {}
        for name, start in candidates.items():
            nb = notebooks.get(name)
            place = _index(nb.sources, source, start) if nb is not None else None
            if place is not None:
                kept[name] = place + 1
        self._next = kept
        ids = {notebooks[name].ids[after - 1] for name, after in kept.items()}
        if len(ids) != 1 or (len(kept) > 1 and None in ids):
            return None  # no notebook, or notebooks of their own (not copies), still fit
        name = _original(list(kept))
        return (name, ids.pop()) if name is not None else None

    def _notebooks(self) -> list[SavedNotebook]:
        found: list[SavedNotebook] = []
        try:
            paths = sorted(self.folder.glob(NOTEBOOK_GLOB))
        except OSError:
            return found
        seen = set()
        for path in paths:
            seen.add(path.name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            stamp = (st.st_mtime_ns, st.st_size)
            cached = self._cache.get(path.name)
            if cached is None or cached[0] != stamp:
                cached = (stamp, _read(path))
                self._cache[path.name] = cached
            if cached[1] is not None:
                found.append(cached[1])
        for gone in set(self._cache) - seen:
            del self._cache[gone]
        return found


def _original(copies: list[str]) -> str | None:
    """Of notebooks holding the same cells, the one copies were made from: the shortest name
    (``x.ipynb``, not ``x.nbconvert.ipynb``), then the first by name."""
    return min(copies, key=lambda name: (len(name), name)) if copies else None


def _index(sources: tuple[str, ...], source: str, start: int) -> int | None:
    for i in range(start, len(sources)):
        if sources[i] == source:
            return i
    return None


def _read(path: Path) -> SavedNotebook | None:
    """A saved notebook's code cells; None when it is not a readable notebook."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = [c for c in cells if c.get("cell_type") == "code"]
        sources = tuple(
            "".join(c["source"]) if isinstance(c["source"], list) else str(c["source"])
            for c in code
        )
        ids = tuple(c.get("id") if isinstance(c.get("id"), str) else None for c in code)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return SavedNotebook(path.name, ids, sources)
