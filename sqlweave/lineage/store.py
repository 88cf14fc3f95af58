"""The folder's lineage store: one run log per notebook plus a folder index.

Layout (inside ``.sqlweave/`` next to the notebooks)::

    index.json                 notebook -> its run-log file, run count, last update; "cleared"
    notebooks/<name>-<h>.json  one notebook's run log (one run per line)
    lineage.lock               the writers' lock

Why JSON files and not sqlite: each file holds one notebook's run log (hundreds of small
records) from which :class:`LineageGraph` replays the graph, so it is read and rewritten
whole anyway; JSON is readable, diffable and trivially exported, and two mechanisms make it
safe:

* **atomic writes**: new text goes to a temporary file in the same folder, is fsynced, then
  ``os.replace``-d over the old one (and the folder fsynced), so readers and a ``kill -9``
  only ever see the old or the new complete file;
* **read-merge-write under a lock**: writers hold an exclusive ``fcntl.flock`` on the
  sidecar ``lineage.lock`` (a data file's inode changes on every replace, so it cannot carry
  the lock) while they read the current logs, merge their runs in and write them back;
  concurrent kernels never lose updates. A writer rewrites only the notebooks it touches.

Readers take no lock. The single ``lineage.json`` of earlier versions is split into
per-notebook files by the first writer that finds it (and kept as ``lineage.json.migrated``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import re
import tempfile
import types
import typing
from collections.abc import Iterable, Iterator
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from ..errors import SqlWeaveError
from .graph import LineageGraph
from .model import StatementLineage
from .runs import INTERACTIVE, Run, RunInfo, RunLog

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: single-writer only
    fcntl = None  # type: ignore[assignment]

FORMAT = "sqlweave-lineage"
INDEX_FORMAT = "sqlweave-lineage-index"
VERSION = 2
#: the folder store, relative to the notebooks' folder
DEFAULT_PATH = Path(".sqlweave")
INDEX = "index.json"
NOTEBOOKS = "notebooks"
LOCK = "lineage.lock"
#: the single-file store of version 1, migrated on the first write
LEGACY = "lineage.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class StoreError(SqlWeaveError):
    """The lineage store cannot be read."""


class StoreVersionError(StoreError):
    """The store was written by a newer sqlweave with a format this one does not know."""


def notebook_key(path: str, folder: str | os.PathLike[str]) -> str:
    """The name a notebook is stored under: its path relative to the store's folder.

    JupyterLab and the headless runner give an absolute path, VS Code another absolute
    path, Notebook 7 a path relative to the server root: all become the same key.

    >>> notebook_key("/work/proj/flights.ipynb", "/work/proj")
    'flights.ipynb'
    >>> notebook_key("<interactive>", "/work/proj")
    '<interactive>'
    """
    if not path or path == INTERACTIVE:
        return INTERACTIVE
    given = Path(path)
    if given.is_absolute():
        try:
            return Path(os.path.realpath(given)).relative_to(os.path.realpath(folder)).as_posix()
        except ValueError:  # a notebook outside the folder keeps its absolute path
            return given.as_posix()
    for candidate in (given, Path(given.name)):  # relative to a server root, or to us
        if (Path(folder) / candidate).exists():
            return Path(os.path.normpath(candidate)).as_posix()
    return given.as_posix()


class LineageStore:
    """The lineage run logs of one folder on disk.

    Args:
        path: the store directory (``.sqlweave``); a path ending in ``.json`` names a
            version-1 single-file store, whose directory becomes the store (migrating it).

    >>> import tempfile, pathlib
    >>> folder = tempfile.TemporaryDirectory()
    >>> store = LineageStore(pathlib.Path(folder.name) / ".sqlweave")
    >>> len(store.load())
    0
    >>> folder.cleanup()
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_PATH) -> None:
        given = Path(path)
        self.root = given.parent if given.suffix == ".json" else given
        self.legacy = given if given.suffix == ".json" else self.root / LEGACY
        #: the folder index (what a reader opens first)
        self.path = self.root / INDEX
        self.lock_path = self.root / LOCK

    def __repr__(self) -> str:
        return f"LineageStore({str(self.root)!r})"

    # ---- reading ------------------------------------------------------------------------------

    def notebooks(self) -> tuple[str, ...]:
        """The notebooks the folder index knows, sorted."""
        index = self._read_index()
        if index is None:
            return tuple(sorted({r.info.notebook for r in self._read_legacy()[0]}))
        return tuple(sorted(index["notebooks"]))

    def load(self, notebook: str | None = None) -> LineageGraph:
        """The stored graph of the folder, or of one notebook (empty when nothing is stored)."""
        return LineageGraph(self.runs(notebook))

    def runs(self, notebook: str | None = None) -> list[Run]:
        """The stored runs of the folder, or of one notebook, minus cleared ones."""
        index = self._read_index()
        if index is None:  # nothing migrated yet: a version-1 file, or no store
            runs, cleared = self._read_legacy()
        else:
            cleared = index["cleared"]
            names = index["notebooks"] if notebook is None else [notebook]
            runs = [r for name in names for r in self._read_log(self._file(name))]
        if notebook is not None:
            runs = [r for r in runs if r.info.notebook == notebook]
        return _without_cleared(runs, cleared)

    # ---- writing ------------------------------------------------------------------------------

    def save(self, graph: LineageGraph) -> LineageGraph:
        """Merge ``graph``'s runs into the store; returns the merged graph of the folder."""
        self._update(list(graph.runs))
        return self.load()

    def append(self, info: RunInfo, lineage: StatementLineage) -> None:
        """Merge one run into the store."""
        self._update([Run(info, lineage)])

    def extend(self, runs: list[Run]) -> None:
        """Merge several runs into the store in one locked read-merge-write."""
        if runs:
            self._update(list(runs))

    def clear(self, notebook: str | None = None) -> None:
        """Forget all runs (or one notebook's) up to now, including in other kernels' later saves."""
        with self._locked() as index:
            now = datetime.now().astimezone().isoformat()
            if notebook is None:
                index["cleared"] = {"*": now}
            else:
                index["cleared"] = {**index["cleared"], notebook: now}
            names = list(index["notebooks"]) if notebook is None else [notebook]
            for name in names:
                if name in index["notebooks"]:
                    self._write_log(index, name, [])

    def forget_cells(self, notebook: str, keep: Iterable[str], before: datetime) -> int:
        """Drop the runs of ``notebook``'s cells not in ``keep`` that ran before ``before``
        (cells deleted from the saved notebook); returns how many runs went."""
        keep = set(keep)
        with self._locked() as index:
            if notebook not in index["notebooks"]:
                return 0
            runs = self._read_log(self._file(notebook))
            kept = [r for r in runs if not _deleted(r, keep, before)]
            if len(kept) != len(runs):
                self._write_log(index, notebook, kept)
            return len(runs) - len(kept)

    def _update(self, new: list[Run]) -> None:
        with self._locked() as index:
            by_notebook: dict[str, list[Run]] = {}
            for run in _without_cleared(new, index["cleared"]):
                by_notebook.setdefault(run.info.notebook, []).append(run)
            for name, runs in sorted(by_notebook.items()):
                current = self._read_log(self._file(name)) if name in index["notebooks"] else []
                log = RunLog(_without_cleared(current, index["cleared"]))
                log.merge(runs)
                self._write_log(index, name, list(log.runs))

    # ---- files --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Hold the lock; yields the index (migrating a version-1 store) and writes it back."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+b") as lock:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                self._remove_orphans()
                index = self._read_index()
                if index is None:
                    index = {"cleared": {}, "notebooks": {}}
                    self._migrate(index)
                before = json.dumps(index, sort_keys=True)
                yield index
                if json.dumps(index, sort_keys=True) != before or not self.path.exists():
                    self._write_index(index)
            finally:
                if fcntl is not None:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _migrate(self, index: dict[str, Any]) -> None:
        """Split a version-1 ``lineage.json`` into per-notebook logs (lock held)."""
        runs, cleared = self._read_legacy()
        if not self.legacy.exists():
            return
        index["cleared"] = cleared
        by_notebook: dict[str, list[Run]] = {}
        for run in runs:
            key = notebook_key(run.info.notebook, self.root.absolute().parent)
            info = dataclasses.replace(run.info, notebook=key)
            by_notebook.setdefault(key, []).append(Run(info, run.lineage))
        for name, notebook_runs in sorted(by_notebook.items()):
            self._write_log(index, name, list(RunLog(notebook_runs).runs))
        self._write_index(index)  # before the old file goes: a crash leaves it to redo
        os.replace(self.legacy, self.legacy.with_name(self.legacy.name + ".migrated"))

    def _remove_orphans(self) -> None:
        """Delete temporary files of writers killed mid-write (only a lock holder writes one)."""
        if fcntl is None:
            return
        for folder in (self.root, self.root / NOTEBOOKS):
            for tmp in folder.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def _file(self, notebook: str) -> Path:
        slug = _UNSAFE.sub("_", Path(notebook).name).strip("_") or "notebook"
        digest = hashlib.sha1(notebook.encode("utf-8")).hexdigest()[:8]
        return self.root / NOTEBOOKS / f"{slug}-{digest}.json"

    def _read_index(self) -> dict[str, Any] | None:
        doc = self._read_json(self.path)
        if doc is None:
            return None
        if doc.get("format") != INDEX_FORMAT:
            raise StoreError(f"{self.path} is not a sqlweave lineage index")
        self._check_version(doc, self.path)
        return {"cleared": dict(doc.get("cleared", {})), "notebooks": dict(doc["notebooks"])}

    def _write_index(self, index: dict[str, Any]) -> None:
        doc = {"format": INDEX_FORMAT, "version": VERSION, **index}
        write_atomic(self.path, json.dumps(doc, indent=1, sort_keys=True) + "\n")

    def _read_legacy(self) -> tuple[list[Run], dict[str, str]]:
        doc = self._read_json(self.legacy)
        if doc is None:
            return [], {}
        return self._runs_of(doc, self.legacy), dict(doc.get("cleared", {}))

    def _read_log(self, path: Path) -> list[Run]:
        doc = self._read_json(path)
        return [] if doc is None else self._runs_of(doc, path)

    def _read_json(self, path: Path) -> dict[str, Any] | None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StoreError(f"lineage store {path} is not valid JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise StoreError(f"{path} is not a sqlweave lineage store")
        return doc

    def _check_version(self, doc: dict[str, Any], path: Path) -> None:
        version = doc.get("version")
        if not isinstance(version, int) or version > VERSION:
            raise StoreVersionError(
                f"lineage store {path} has format version {version!r}; this sqlweave reads "
                f"versions up to {VERSION}. Upgrade sqlweave, or move the file away to start afresh."
            )

    def _runs_of(self, doc: dict[str, Any], path: Path) -> list[Run]:
        if doc.get("format") != FORMAT:
            raise StoreError(f"{path} is not a sqlweave lineage store")
        self._check_version(doc, path)
        try:
            return [
                Run(decode(RunInfo, r["info"]), decode(StatementLineage, r["lineage"]))
                for r in doc.get("runs", [])
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"lineage store {path} has a malformed run: {exc!r}") from exc

    def _write_log(self, index: dict[str, Any], notebook: str, runs: list[Run]) -> None:
        path = self._file(notebook)
        path.parent.mkdir(parents=True, exist_ok=True)
        # one run per line: diffable, and json's fast C encoder (indent= would disable it)
        head = json.dumps({"format": FORMAT, "version": VERSION, "notebook": notebook})
        lines = [
            json.dumps(
                {"info": encode(r.info), "lineage": encode(r.lineage)},
                sort_keys=True,
                ensure_ascii=False,
            )
            for r in runs
        ]
        body = ",\n".join(lines)
        write_atomic(path, f'{head[:-1]}, "runs": [\n{body}\n]}}\n')
        index["notebooks"][notebook] = {
            "file": path.relative_to(self.root).as_posix(),
            "runs": len(runs),
            "updated_at": datetime.now().astimezone().isoformat(),
        }


def saved_cells(path: str | os.PathLike[str]) -> tuple[frozenset[str], datetime] | None:
    """The cell ids of a saved ``.ipynb`` and when it was saved; None when it cannot tell
    (no such file, not a notebook, or cells without ids: nbformat before 4.5)."""
    try:
        saved = datetime.fromtimestamp(os.stat(path).st_mtime).astimezone()
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        cells = doc["cells"]
        ids = [c.get("id") for c in cells]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not all(isinstance(i, str) for i in ids):
        return None
    return frozenset(ids), saved


def cell_order(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """The cell ids of a saved ``.ipynb`` in notebook order; empty when it cannot tell."""
    try:
        cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
        return tuple(c["id"] for c in cells if isinstance(c.get("id"), str))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return ()


def _deleted(run: Run, keep: set[str], before: datetime) -> bool:
    cell = run.info.cell_id
    return cell is not None and cell not in keep and _aware(run.info.started_at) < _aware(before)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` so that no reader or crash ever sees a partial file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; this is an ordinary project file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _without_cleared(runs: list[Run], cleared: dict[str, str]) -> list[Run]:
    if not cleared:
        return runs
    cuts = {k: datetime.fromisoformat(v) for k, v in cleared.items()}

    def kept(run: Run) -> bool:
        for key in ("*", run.info.notebook):
            if key in cuts and _aware(run.info.started_at) <= cuts[key]:
                return False
        return True

    return [r for r in runs if kept(r)]


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.astimezone()


# ---- dataclass <-> JSON -----------------------------------------------------------------------
# Generic over field types, so fields the extraction adds to the model values are stored
# without changes here; unknown keys in a stored record are ignored.


def encode(value: Any) -> Any:
    """A JSON-able form of a model value (dataclasses, enums, sets, tuples, datetimes)."""
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (set, frozenset)):
        return sorted((encode(v) for v in value), key=json.dumps)
    if isinstance(value, (tuple, list)):
        return [encode(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@functools.cache
def _init_hints(tp: type) -> dict[str, Any]:
    hints = typing.get_type_hints(tp)
    return {f.name: hints[f.name] for f in dataclasses.fields(tp) if f.init}


def decode(tp: Any, data: Any) -> Any:
    """The inverse of :func:`encode`, driven by the type hint ``tp``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if data is None:
            return None
        arms = [a for a in typing.get_args(tp) if a is not type(None)]
        return decode(arms[0], data) if len(arms) == 1 else data
    if origin in (frozenset, set):
        (item,) = typing.get_args(tp)
        return origin(decode(item, d) for d in data)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], d) for d in data)
        return tuple(decode(a, d) for a, d in zip(args, data))
    if isinstance(tp, type) and issubclass(tp, Enum):
        return tp(data)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _init_hints(tp)
        return tp(**{k: decode(hints[k], v) for k, v in data.items() if k in hints})
    if tp is datetime:
        return datetime.fromisoformat(data)
    if tp is float and isinstance(data, int):
        return float(data)
    return data
