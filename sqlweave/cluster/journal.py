"""The coordinator's memory across restarts: an append-only journal plus a snapshot.

Every change to the catalog and every finished statement is one JSON line appended to
``DIR/journal.jsonl`` and fsync-ed before the client hears "done"; in-memory tables
are written as Arrow IPC files under ``DIR/tables`` first. On start the coordinator
replays ``DIR/snapshot.json`` and then the journal (a torn last line, left by a kill
mid-write, is ignored), and writes a fresh snapshot that replaces both (compaction:
temp file, fsync, rename).

Records are :class:`Record` values with an :class:`Op`; the coordinator applies them.

>>> import tempfile
>>> folder = tempfile.TemporaryDirectory()
>>> j = Journal(folder.name)
>>> j.append(Record(Op.REGISTER_PATH, name="t", path="/data/t.parquet"))
>>> j.append(Record(Op.DEREGISTER, name="t"))
>>> [r.op.value for r in Journal(j.directory).catalog()]
[]
>>> folder.cleanup()
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import pyarrow as pa

log = logging.getLogger("sqlweave.cluster.journal")

#: finished statements kept in the history (older ones drop out at compaction)
HISTORY = 1000


class Op(str, Enum):
    REGISTER_PATH = "register_path"
    REGISTER_ARROW = "register_arrow"
    EXTERNAL = "external"  # a CREATE EXTERNAL TABLE statement
    #: a table SQL made or changed on the coordinator (CREATE TABLE AS, INSERT...): its rows
    TABLE = "table"
    VIEW = "view"  # a CREATE VIEW statement and the session settings it ran under
    DEREGISTER = "deregister"
    STATEMENT = "statement"  # a finished statement (query history)


#: catalog ops whose rows live in files outside the journal (SQL writes to them go there)
FILE_BACKED = (Op.REGISTER_PATH, Op.EXTERNAL)


@dataclass(frozen=True)
class Record:
    """One journal line. Catalog ops name a table; STATEMENT carries the history fields."""

    op: Op
    name: str = ""
    path: str = ""
    format: str | None = None
    sql: str = ""
    file: str = ""  # Arrow IPC file of an in-memory table, relative to the journal dir
    state: str = ""  # STATEMENT: finished | failed | cancelled
    seconds: float = 0.0
    rows: int = 0
    bytes: int = 0
    error: str = ""
    at: float = 0.0  # wall-clock time the statement ended
    #: VIEW: the session settings (name, value) the view was made under
    settings: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> str:
        d = {k: v for k, v in dataclasses.asdict(self).items() if v not in ("", 0, 0.0, None, ())}
        d["op"] = self.op.value
        return json.dumps(d, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Record:
        return cls.from_dict(json.loads(line))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Record:
        settings = tuple((str(k), str(v)) for k, v in d.get("settings", ()))
        return cls(**{**d, "op": Op(d["op"]), "settings": settings})


class Journal:
    """Append-only records in ``directory`` (created 0700)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.directory / "tables").mkdir(exist_ok=True)
        self.path = self.directory / "journal.jsonl"
        self.snapshot = self.directory / "snapshot.json"
        self._catalog: dict[str, Record] = {}
        self.history: deque[Record] = deque(maxlen=HISTORY)
        for record in self._read():
            self._apply(record)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        # the loop appends, and so do statement threads making their tables durable
        self._lock = threading.Lock()

    # ----- reading --------------------------------------------------------------

    def _read(self) -> list[Record]:
        records = []
        if self.snapshot.exists():
            records.extend(Record.from_dict(x) for x in json.loads(self.snapshot.read_text()))
        if self.path.exists():
            lines = self.path.read_text(encoding="utf-8").split("\n")
            for n, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    records.append(Record.from_json(line))
                except (ValueError, TypeError, KeyError):
                    # only the last line can be torn (a kill mid-append); worse is logged
                    level = logging.INFO if n >= len(lines) - 1 else logging.WARNING
                    log.log(level, "skipping unreadable journal line %d", n)
        return records

    def _apply(self, record: Record) -> None:
        if record.op is Op.STATEMENT:
            self.history.append(record)
        elif record.op is Op.DEREGISTER:
            self._catalog.pop(record.name, None)
        else:
            self._catalog.pop(record.name, None)  # re-registered: it moves to the end
            self._catalog[record.name] = record

    def catalog(self) -> list[Record]:
        """The live catalog records, in the order they were made."""
        with self._lock:
            return list(self._catalog.values())

    def record_of(self, name: str) -> Record | None:
        """The live catalog record of table ``name``, if any."""
        with self._lock:
            return self._catalog.get(name)

    # ----- writing ----------------------------------------------------------------

    def append(self, record: Record) -> None:
        """Write ``record`` durably (fsync) before returning."""
        with self._lock:
            self._apply(record)
            self._file.write(record.to_json() + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())

    def save_table(self, table: pa.Table) -> str:
        """Write an in-memory table as an Arrow IPC file (fsync-ed); its relative name."""
        name = f"tables/{uuid.uuid4().hex}.arrow"
        tmp = self.directory / (name + ".tmp")
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        _fsync_path(tmp)
        os.replace(tmp, self.directory / name)
        _fsync_path(self.directory / "tables")  # the rename itself survives a crash
        return name

    def load_table(self, name: str) -> pa.Table:
        with pa.memory_map(str(self.directory / name)) as source:
            return pa.ipc.open_file(source).read_all()

    def compact(self) -> None:
        """Replace snapshot + journal by one snapshot of the live state; drop unused files."""
        live = [*self._catalog.values(), *self.history]
        tmp = self.snapshot.with_suffix(".tmp")
        tmp.write_text(json.dumps([json.loads(r.to_json()) for r in live]))
        _fsync_path(tmp)
        os.replace(tmp, self.snapshot)
        self._file.close()
        self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - kept open
        os.fsync(self._file.fileno())
        _fsync_path(self.directory)
        kept = {r.file for r in self._catalog.values() if r.file}
        for f in (self.directory / "tables").iterdir():
            if f"tables/{f.name}" not in kept:
                f.unlink(missing_ok=True)

    def close(self) -> None:
        self._file.close()


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def statement_record(sql: str, state: str, seconds: float, rows: int = 0, **kw: Any) -> Record:
    """A history record of one finished statement."""
    import time

    return Record(
        Op.STATEMENT, sql=sql[:2000], state=state, seconds=seconds, rows=rows, at=time.time(), **kw
    )
