"""The project's lineage store: a versioned JSON run log shared by every kernel.

Why a JSON file and not sqlite: the store holds the run log (hundreds of small
records per project) from which :class:`LineageGraph` replays the graph, so it
is read and rewritten whole anyway; a single JSON document is readable, diffable
and trivially exported, and two mechanisms make it safe:

* **atomic writes**: the new text goes to a temporary file in the same folder,
  is fsynced, then ``os.replace``-d over the old one (and the folder fsynced),
  so readers and a ``kill -9`` only ever see the old or the new complete file;
* **read-merge-write under a lock**: writers hold an exclusive ``fcntl.flock`` on
  a sidecar ``<name>.lock`` file (the data file's inode changes on every
  replace, so it cannot carry the lock) while they read the current log, merge
  their runs into it and write it back; concurrent kernels never lose updates.

Readers take no lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import tempfile
import types
import typing
from collections.abc import Iterator
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from ..errors import SqlWeaveError
from .graph import LineageGraph
from .model import StatementLineage
from .runs import Run, RunInfo, RunLog

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: single-writer only
    fcntl = None  # type: ignore[assignment]

FORMAT = "sqlweave-lineage"
VERSION = 1
DEFAULT_PATH = Path(".sqlweave") / "lineage.json"


class StoreError(SqlWeaveError):
    """The lineage store cannot be read."""


class StoreVersionError(StoreError):
    """The store was written by a newer sqlweave with a format this one does not know."""


class LineageStore:
    """A lineage run log on disk.

    >>> import tempfile, pathlib
    >>> store = LineageStore(pathlib.Path(tempfile.mkdtemp()) / "lineage.json")
    >>> len(store.load())
    0
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_PATH) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def __repr__(self) -> str:
        return f"LineageStore({str(self.path)!r})"

    def load(self) -> LineageGraph:
        """The stored graph (empty when there is no store yet)."""
        runs, cleared = self._read()
        return LineageGraph(_without_cleared(runs, cleared))

    def save(self, graph: LineageGraph) -> LineageGraph:
        """Merge ``graph``'s runs into the store; returns the merged graph."""
        return LineageGraph(self._update(list(graph.runs)).runs)

    def append(self, info: RunInfo, lineage: StatementLineage) -> None:
        """Merge one run into the store."""
        self._update([Run(info, lineage)])

    def extend(self, runs: list[Run]) -> None:
        """Merge several runs into the store in one locked read-merge-write."""
        if runs:
            self._update(list(runs))

    def clear(self, notebook: str | None = None) -> None:
        """Forget all runs (or one notebook's) up to now, including in other kernels' later saves."""
        with self._locked():
            runs, cleared = self._read()
            now = datetime.now().astimezone().isoformat()
            if notebook is None:
                cleared = {"*": now}
            else:
                cleared = {**cleared, notebook: now}
            self._write(_without_cleared(runs, cleared), cleared)

    def _update(self, new: list[Run]) -> RunLog:
        with self._locked():
            runs, cleared = self._read()
            log = RunLog(_without_cleared(runs, cleared))
            log.merge(_without_cleared(new, cleared))
            self._write(list(log.runs), cleared)
            return log

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.lock_path, "a+b") as lock:
            if fcntl is not None:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                self._remove_orphans()
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _remove_orphans(self) -> None:
        """Delete temporary files of writers killed mid-write (only a lock holder writes one)."""
        if fcntl is None:
            return
        for tmp in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()

    def _read(self) -> tuple[list[Run], dict[str, str]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return [], {}
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StoreError(f"lineage store {self.path} is not valid JSON: {exc}") from exc
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise StoreError(f"{self.path} is not a sqlweave lineage store")
        version = doc.get("version")
        if not isinstance(version, int) or version > VERSION:
            raise StoreVersionError(
                f"lineage store {self.path} has format version {version!r}; this sqlweave reads "
                f"versions up to {VERSION}. Upgrade sqlweave, or move the file away to start afresh."
            )
        try:
            runs = [
                Run(decode(RunInfo, r["info"]), decode(StatementLineage, r["lineage"]))
                for r in doc.get("runs", [])
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"lineage store {self.path} has a malformed run: {exc!r}") from exc
        return runs, dict(doc.get("cleared", {}))

    def _write(self, runs: list[Run], cleared: dict[str, str]) -> None:
        # one run per line: diffable, and json's fast C encoder (indent= would disable it)
        head = json.dumps({"format": FORMAT, "version": VERSION, "cleared": cleared})
        lines = [
            json.dumps(
                {"info": encode(r.info), "lineage": encode(r.lineage)},
                sort_keys=True,
                ensure_ascii=False,
            )
            for r in runs
        ]
        body = ",\n".join(lines)
        write_atomic(self.path, f'{head[:-1]}, "runs": [\n{body}\n]}}\n')


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
