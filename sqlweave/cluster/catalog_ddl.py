"""Catalog commands and DDL on the coordinator: registering paths, Arrow tables and
external tables, dropping them, listing and describing, and replaying the journal.

A mixin of :class:`.coordinator.Coordinator`: the methods use its sockets, catalog,
path policy, journal and thread pool. Whatever reads the file system (listing, schema
inference, parquet footers, CREATE EXTERNAL TABLE) runs on the thread pool under a
deadline; only the catalog change itself happens on the loop.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from .. import errors
from ..engines.paths_policy import Access, Effects
from ..statements import ExternalTable
from . import limits
from . import protocol as P
from .catalog import TableEntry, arrow_entry, files_entry
from .journal import FILE_BACKED, Op, Record
from .routing import Change, Write, route
from .undo import Undo

log = logging.getLogger("sqlweave.cluster.coordinator")


@dataclass
class CatalogJob:
    """A catalog change reading the file system on a pool thread, and how to finish it."""

    identity: bytes
    request_id: str
    #: what it does, for the message when it takes too long
    what: str
    #: (on the loop) record the thread's result and make the reply
    commit: Callable[[Any], P.Message]
    #: (on a pool thread) undo what the thread did, when it ends after we gave up
    abandon: Callable[[], None]
    deadline: float = 0.0


def _quietly(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:
        log.exception("undoing an abandoned catalog change failed")


class CatalogCommands:
    """Handlers for the catalog messages and the DDL that changes the cluster catalog."""

    def _recover(self) -> None:
        """Rebuild the catalog from the journal (a table whose files are gone is skipped).

        Records replay in the order they were made; one that fails (a view over a table
        replaced later, say) is tried again after the others, until a pass restores
        nothing more."""
        assert self.journal is not None
        pending = self.journal.catalog()
        failed: dict[str, Exception] = {}
        while pending:
            left = []
            for rec in pending:
                try:
                    self._restore(rec)
                    failed.pop(rec.name, None)
                except Exception as exc:
                    failed[rec.name] = exc
                    left.append(rec)
            if len(left) == len(pending):
                break
            pending = left
        for name, exc in failed.items():
            log.warning("could not restore table %s from the journal: %s", name, exc)
            self.journal.append(Record(Op.DEREGISTER, name=name))
        self.queries_run = len(self.history)
        self.journal.compact()
        log.info("recovered %d tables from %s", len(self.journal.catalog()), self.journal.directory)

    def _restore(self, rec: Record) -> None:
        """Apply one catalog record of the journal."""
        assert self.journal is not None
        if rec.op is Op.REGISTER_PATH:
            self.paths.register(rec.name, rec.path)
            self.catalog.add_entry(*self._read_path(rec.name, rec.path, rec.format))
        elif rec.op is Op.REGISTER_ARROW:
            table = self.journal.load_table(rec.file)
            self.context().register_arrow(rec.name, table)
            self.catalog.add_arrow(rec.name, table, self._parts())
        elif rec.op is Op.TABLE:  # made by SQL here: it stays out of the cluster catalog
            self.context().register_arrow(rec.name, self.journal.load_table(rec.file))
        elif rec.op is Op.VIEW:
            self._session_like(rec.settings).sql(rec.sql).collect()
        elif rec.op is Op.EXTERNAL:
            effects = self.paths.check_statement(self.context().ctx, rec.sql)
            self.context().execute(rec.sql)
            self.paths.apply(effects)
            declared = route(rec.sql).external
            entry = self._external_entry(declared, effects) if declared else None
            self.catalog.remove(rec.name)
            if entry is not None:
                self.catalog.add_entry(entry, {})

    def _session_like(self, settings: tuple[tuple[str, str], ...]) -> Any:
        """A context over the shared catalog with a client session's ``settings``."""
        from ..engines.local import apply_settings, make_context

        ctx = make_context()
        apply_settings(ctx, settings)
        ctx.register_catalog_provider("datafusion", self.context().ctx.catalog())
        return ctx

    def _journal_write(self, write: Write, sql: str, settings: tuple[tuple[str, str], ...]) -> None:
        """(On the statement's thread) make what a finished statement did to a table durable.

        A table made or changed here has its rows written to the state directory (an
        Arrow file, renamed into place once complete) and journaled by reference; a view
        is journaled as its statement and the settings it ran under; a drop as a drop.
        Tables whose rows live in files (registered paths, external tables) need nothing.
        Runs under one lock, so the journal's order is the order the tables were read in.
        """
        if self.journal is None:
            return
        ctx = self.context().ctx
        with self._journal_lock:
            try:
                exists = ctx.table_exist(write.name)
                if write.change is Change.DROP:
                    if not exists:
                        self.journal.append(Record(Op.DEREGISTER, write.name))
                    return
                if not exists:
                    return  # e.g. a name the statement only seemed to write
                if write.change is Change.VIEW:
                    self.journal.append(Record(Op.VIEW, write.name, sql=sql, settings=settings))
                    return
                kept = self.journal.record_of(write.name)
                table_kind = ctx.catalog().schema().table(write.name).kind
                if (kept is not None and kept.op in FILE_BACKED) or table_kind == "view":
                    return
                file = self.journal.save_table(ctx.table(write.name).to_arrow_table())
                self.journal.append(Record(Op.TABLE, write.name, file=file))
            except Exception as exc:
                log.exception("journaling %s failed", write.name)
                raise errors.UsageError(
                    f"the statement ran, but {write.name} could not be made durable "
                    f"(it may be lost if the coordinator restarts): {exc}"
                ) from None

    def _record(self, record: Record) -> None:
        """Journal a catalog change (durably, before the client hears of it)."""
        if self.journal is not None:
            self.journal.append(record)

    def _on_register_path(self, identity: bytes, msg: P.RegisterPath) -> None:
        if self._gate is None:  # anyone may connect: registering is SQL-like access
            try:
                self.paths.check(msg.path, Access.READ)
            except errors.UsageError as exc:
                return self._reply_error(identity, msg.request_id, exc)
        self.context()

        def commit(found: tuple[TableEntry, dict[str, Any]]) -> P.Message:
            self.catalog.add_entry(*found)
            self.paths.register(msg.name, msg.path)
            self._record(Record(Op.REGISTER_PATH, msg.name, msg.path, msg.format))
            return P.Ok(msg.request_id)

        self._catalog_job(
            CatalogJob(
                identity,
                msg.request_id,
                f"registering {msg.name} from {msg.path}",
                commit,
                lambda: self.context().deregister(msg.name),
            ),
            self._read_path,
            msg.name,
            msg.path,
            msg.format,
        )

    def _catalog_job(self, job: CatalogJob, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` off the loop, under :data:`.limits.REGISTER_TIMEOUT_S`.

        Format detection, listing, schema inference and parquet footers read the file
        system, which may block as long as it likes (a slow mount): other clients must
        not wait for it."""
        job.deadline = time.monotonic() + limits.REGISTER_TIMEOUT_S
        self._catalog_jobs[self._offloop.submit(fn, *args)] = job

    def _read_path(
        self, name: str, path: str, format: str | None
    ) -> tuple[TableEntry, dict[str, Any]]:
        """(On a pool thread) register ``path`` in the coordinator's context; its catalog
        entry and in-memory partitions (an Arrow file is read into memory)."""
        from ..engines import paths

        refuse_special_file(path)
        try:
            fmt = paths.detect_format(path, format)
        except (FileNotFoundError, ValueError) as exc:
            raise errors.UsageError(str(exc)) from None
        self.context().register_path(name, path, fmt)
        if fmt == "arrow":
            return arrow_entry(name, self._ctx.ctx.table(name).to_arrow_table(), self._parts())
        return files_entry(name, paths.expand(path), fmt), {}

    def _finish_catalog_jobs(self) -> None:
        """Answer the catalog jobs that ended; give up on those past their deadline."""
        now = time.monotonic()
        for fut, job in list(self._catalog_jobs.items()):
            if not fut.done():
                if now > job.deadline:
                    # the thread stays stuck in the file system; the client hears the truth
                    del self._catalog_jobs[fut]
                    fut.add_done_callback(lambda _f, undo=job.abandon: _quietly(undo))
                    self._reply_error(
                        job.identity,
                        job.request_id,
                        errors.UsageError(
                            f"{job.what} took longer than {limits.REGISTER_TIMEOUT_S:.0f} s; "
                            "gave up (nothing registered)"
                        ),
                    )
                continue
            del self._catalog_jobs[fut]
            try:
                reply = job.commit(fut.result())
            except Exception as exc:
                self._reply_error(job.identity, job.request_id, exc)
                continue
            P.send(self.clients, reply, job.identity)

    def _parts(self) -> int:
        return max(1, len(self.membership.alive()))

    def _on_register_arrow(self, identity: bytes, msg: P.RegisterArrow) -> None:
        try:
            self.context().register_arrow(msg.name, msg.table)
            entry = self.catalog.add_arrow(msg.name, msg.table, self._parts())
            if msg.key:  # a notebook DataFrame, registered for one statement: keep a copy
                parts = {h: self.catalog.partitions[h] for h in entry.source.hashes}
                self._frames.put(msg.key, msg.table, entry, parts)
            elif self.journal is not None:
                file = self.journal.save_table(msg.table)
                self._record(Record(Op.REGISTER_ARROW, msg.name, file=file))
        except Exception as exc:
            return self._reply_error(identity, msg.request_id, exc)
        P.send(self.clients, P.Ok(msg.request_id), identity)

    def _on_register_known(self, identity: bytes, msg: P.RegisterKnown) -> None:
        kept = self._frames.get(msg.key)
        if kept is None:
            reply = P.QueryFailed(msg.request_id, P.ErrorKind.USAGE, "no frame with that key")
            return P.send(self.clients, reply, identity)
        table, entry, parts = kept
        self.context().register_arrow(msg.name, table)
        self.catalog.add_entry(dataclasses.replace(entry, name=msg.name), parts)
        P.send(self.clients, P.Ok(msg.request_id), identity)

    def _on_deregister(self, identity: bytes, msg: P.Deregister) -> None:
        self.catalog.remove(msg.name)
        self.context().deregister(msg.name)
        self.paths.forget(msg.name)
        self._record(Record(Op.DEREGISTER, msg.name))
        P.send(self.clients, P.Ok(msg.request_id), identity)

    def _on_list_tables(self, identity: bytes, msg: P.ListTables) -> None:
        names = tuple(sorted(set(self.catalog.names()) | set(self.context().tables())))
        P.send(self.clients, P.TableList(msg.request_id, names), identity)

    def _on_describe(self, identity: bytes, msg: P.DescribeTable) -> None:
        try:
            schema = (
                self.catalog[msg.name].schema
                if msg.name in self.catalog
                else self.context().schema(msg.name)
            )
        except Exception as exc:
            return self._reply_error(identity, msg.request_id, exc)
        P.send(self.clients, P.TableSchema(msg.request_id, schema), identity)

    def context(self) -> Any:
        """The coordinator's own engine: a mirror of the catalog for coordinator stages and DDL."""
        if self._ctx is None:
            from ..engines.local import DataFusionEngine

            self._ctx = DataFusionEngine()
        return self._ctx

    def _create_external(
        self,
        identity: bytes,
        request_id: str,
        sql: str,
        declared: ExternalTable,
        effects: Effects,
    ) -> None:
        """Run CREATE EXTERNAL TABLE off the loop (DataFusion lists the files and reads
        their schema), then put the table in the cluster catalog on the loop."""
        name = declared.name
        session = self._session(identity)
        undo: list[Undo] = []

        def create() -> TableEntry | None:
            refuse_special_file(declared.location)
            undo.append(Undo.before(session.engine.ctx, name, rows_in_place=False))
            session.engine.execute(sql)  # DataFusion validates the statement
            return self._external_entry(declared, effects)

        def commit(entry: TableEntry | None) -> P.Message:
            self.paths.apply(effects)
            self.catalog.remove(name)
            if entry is not None:
                self.catalog.add_entry(entry, {})
            self._record(Record(Op.EXTERNAL, name, sql=sql))
            return P.QueryResult(request_id, pa.table({}))

        def abandon() -> None:
            if undo:
                undo[0].rollback()

        job = CatalogJob(identity, request_id, f"creating external table {name}", commit, abandon)
        self._catalog_job(job, create)

    def _external_entry(self, declared: ExternalTable, effects: Effects) -> TableEntry | None:
        """(On a pool thread) the catalog entry of a table made by CREATE EXTERNAL TABLE,
        when workers can read its files exactly as declared.

        That is a plain parquet table (no column list, options or partitioning) whose
        location holds files. Anything else (a declared schema, CSV options such as
        ``has_header``, a location with no files yet) stays out of the catalog: queries
        over it run on the coordinator, which registered it exactly as declared.
        """
        name = declared.name
        if declared.format != "PARQUET" or declared.declared:
            return None
        # the location DataFusion planned, checked once more: it is what workers will read
        planned = dict(effects.located)
        location = planned.get(name, self.paths.locations.get(name, declared.location))
        try:
            self.paths.check(location, Access.READ)
            return files_entry(name, location, "parquet")
        except (FileNotFoundError, OSError, errors.UsageError) as exc:
            log.info("external table %s is read on the coordinator: %s", name, exc)
            return None


def refuse_special_file(path: str) -> None:
    """A FIFO, device or socket would block (or never end) a reader: say so instead.

    >>> refuse_special_file("/dev/null")
    Traceback (most recent call last):
    sqlweave.errors.UsageError: /dev/null is not a regular file or directory (a FIFO, ...
    """
    import stat

    try:
        mode = os.stat(path).st_mode  # stat never opens, so it cannot block on a FIFO
    except OSError:
        return  # a glob or a missing path: detection says what is wrong
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise errors.UsageError(
            f"{path} is not a regular file or directory (a FIFO, device or socket): "
            "register data files only"
        )
