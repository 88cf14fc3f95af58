"""The embedded engine: Apache DataFusion in this process (the default)."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
from datafusion import DataFrame, ExecutionPlan, SessionConfig, SessionContext

from ..errors import PlanError, QueryCancelled, SqlError, UsageError
from ..native_runtime import set_runtime_defaults
from . import bound_statements, paths, sqlerrors
from .engine import Engine, ProgressCallback
from .engine_thread import EngineThread
from .killable import (
    MIN_PAIRS,
    ChildJob,
    ChildRunner,
    ChildUnavailable,
    Killable,
    child_job,
    may_join,
)
from .metering import PlanMeter, collect_metered
from .tuning import DATAFUSION_DEFAULTS, Settings

# before DataFusion's first query starts its runtime (sqlweave.guard did it already when
# sqlweave was imported; this keeps the engine right when imported on its own)
set_runtime_defaults()

_THREAD: EngineThread | None = None
_THREAD_LOCK = threading.Lock()


@functools.cache
def _fresh_settings() -> dict[str, str | None]:
    """The settings of a context as :func:`make_context` makes it (what a child starts from)."""
    return settings_of(make_context())


def engine_thread() -> EngineThread:
    """The thread every embedded DataFusion engine of this process plans and runs on."""
    global _THREAD
    with _THREAD_LOCK:
        if _THREAD is None:
            _THREAD = EngineThread("datafusion")
        return _THREAD


def make_context(
    settings: Mapping[str, str] | None = None,
    target_partitions: int | None = None,
    memory_limit: int | None = None,
    spill_dir: str | None = None,
) -> SessionContext:
    """A DataFusion context with sqlweave's tuned defaults, overridden by ``settings``.

    ``memory_limit`` (bytes) puts every query under a fair spill pool: operators that can
    spill (sorts, aggregations, joins) write to ``spill_dir``; the others fail with
    DataFusion's "Resources exhausted" instead of growing the process without bound.
    """
    config = SessionConfig().with_information_schema(True)
    config = config.with_target_partitions(target_partitions or os.cpu_count() or 2)
    for key, value in {**DATAFUSION_DEFAULTS, **(settings or {})}.items():
        config = config.set(key, str(value))
    if memory_limit is None:
        return SessionContext(config)
    from datafusion import RuntimeEnvBuilder

    runtime = RuntimeEnvBuilder().with_fair_spill_pool(memory_limit)
    runtime = (
        runtime.with_disk_manager_specified(spill_dir)
        if spill_dir
        else runtime.with_disk_manager_os()
    )
    return SessionContext(config, runtime)


def apply_settings(ctx: SessionContext, settings: Iterable[tuple[str, str]]) -> None:
    """Replay session settings (as :func:`changed_settings` lists them) on ``ctx``.

    Through ``SET``, which takes every key ``information_schema.df_settings`` shows,
    runtime ones (``datafusion.runtime.memory_limit``) included.
    """
    for key, value in settings:
        ctx.sql(f"SET {key} = '{value.replace(chr(39), chr(39) * 2)}'").collect()


def changed_settings(ctx: SessionContext, baseline: Mapping[str, str | None]) -> Settings:
    """The settings of ``ctx`` that differ from ``baseline`` (see :func:`settings_of`).

    >>> ctx = make_context()
    >>> base = settings_of(make_context())
    >>> _ = ctx.sql("SET TIME ZONE = 'Europe/Paris'").collect()
    >>> changed_settings(ctx, base)
    (('datafusion.execution.time_zone', 'Europe/Paris'),)
    """
    return tuple(
        sorted(
            (k, v) for k, v in settings_of(ctx).items() if v is not None and v != baseline.get(k)
        )
    )


def settings_of(ctx: SessionContext) -> dict[str, str | None]:
    """Every setting of ``ctx``, read from its information schema (switched on for the
    read if a ``SET`` switched it off)."""
    query = "SELECT name, value FROM information_schema.df_settings"
    key = "datafusion.catalog.information_schema"
    try:
        rows = ctx.sql(query).to_arrow_table()
    except Exception:
        ctx.sql(f"SET {key} = true").collect()
        try:
            rows = ctx.sql(query).to_arrow_table()
        finally:
            ctx.sql(f"SET {key} = false").collect()
        return {**dict(zip(rows.column(0).to_pylist(), rows.column(1).to_pylist())), key: "false"}
    return dict(zip(rows.column(0).to_pylist(), rows.column(1).to_pylist()))


async def collect_table_async(
    df: DataFrame, ctx: SessionContext | None = None, plan: ExecutionPlan | None = None
) -> pa.Table:
    """:func:`collect_table`, reading DataFusion's stream asynchronously so that cancelling
    the awaiting task drops the stream (and with it the query's work). Runs ``plan`` (``df``
    planned on ``ctx``, never run) when given and it has one partition, rather than
    planning ``df`` again."""
    if ctx is not None and plan is not None and plan.partition_count == 1:
        stream = ctx.execute(plan, 0)
    else:
        stream = df.execute_stream()
    try:
        batches = [batch.to_pyarrow() async for batch in stream]
    finally:
        del stream  # see EngineThread: nothing may keep the stream once cancelled
    return pa.Table.from_batches(batches) if batches else df.schema().empty_table()


def collect_table(df: DataFrame) -> pa.Table:
    """Run ``df`` and gather its output as one Arrow table.

    Built from the batches' own schema: DataFusion's reported one can disagree on
    nullability (a correlated ``count(*)`` is "not null" in ``df.schema()`` but nullable
    in the batches).
    """
    batches = df.collect()
    return pa.Table.from_batches(batches) if batches else df.schema().empty_table()


class DataFusionEngine(Engine):
    """DataFusion running inside the kernel: nothing to start.

    >>> e = DataFusionEngine()
    >>> e.execute("SELECT 1 AS x").to_pylist()
    [{'x': 1}]
    """

    name = "datafusion"
    dialect = "postgres"

    def __init__(
        self,
        settings: Mapping[str, str] | None = None,
        target_partitions: int | None = None,
        context: SessionContext | None = None,
    ) -> None:
        self.ctx = context or make_context(settings, target_partitions)
        #: which joins over at least :attr:`child_min_pairs` row pairs run in a killable
        #: child process (see :mod:`~sqlweave.engines.killable`)
        self.killable = Killable.NESTED_LOOP
        self.child_min_pairs = MIN_PAIRS
        self._children = ChildRunner()

    def execute(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        progress: ProgressCallback | None = None,
        meter: PlanMeter | None = None,
    ) -> pa.Table:
        """See :meth:`Engine.execute`; off the main thread, ``meter`` (when given) measures
        the run while it goes (the coordinator reports long statements with it)."""

        async def run(may_go: bool = True) -> pa.Table | ChildJob:
            df = bound_statements.plan(self.ctx, sql, params, self._error)
            plan = None
            if may_go and self.killable is not Killable.OFF and may_join(df):
                plan = df.execution_plan()  # planned once: what runs here is this plan
                job = self._child_job(sql, plan, params)
                if job is not None:
                    return job
            return await collect_table_async(df, self.ctx, plan)

        try:
            if threading.current_thread() is not threading.main_thread():
                # a server's worker thread (the coordinator's): no interrupt arrives there,
                # and statements of concurrent clients must not queue behind one another
                df = bound_statements.plan(self.ctx, sql, params, self._error)
                return collect_table(df) if meter is None else collect_metered(self.ctx, df, meter)
            # planned and run on the engine thread: its stack fits what the guard admits,
            # and this thread stays free to take an interrupt
            done = engine_thread().run_async(run)
            if isinstance(done, ChildJob):  # a join DataFusion could not stop: killable
                try:
                    return self._children.run(done)
                except ChildUnavailable:  # it never ran there: run it here
                    return engine_thread().run_async(lambda: run(may_go=False))
            return done
        except (QueryCancelled, SqlError):
            raise
        except KeyboardInterrupt:
            raise QueryCancelled() from None
        except Exception as exc:  # DataFusion raises plain ValueError/Exception
            raise self._error(exc, sql) from None

    def _child_job(
        self, sql: str, plan: ExecutionPlan, params: Mapping[str, Any] | None
    ) -> ChildJob | None:
        try:
            return child_job(
                self.ctx,
                sql,
                plan,
                params,
                _fresh_settings(),
                Killable(self.killable),
                self.child_min_pairs,
            )
        except Exception:  # deciding where to run must never fail a query that runs here
            return None

    @property
    def child_pid(self) -> int | None:
        """The process id of the child running long nested-loop joins, while it runs."""
        return self._children.pid

    def close(self) -> None:
        """End the child process of :mod:`~sqlweave.engines.killable`, if one runs."""
        self._children.kill()

    def _error(self, exc: BaseException, sql: str) -> SqlError:
        return sqlerrors.from_datafusion(exc, sql, self.tables())

    def register_path(self, name: str, path: str, format: str | None = None) -> None:
        try:
            fmt = paths.detect_format(path, format)
        except (FileNotFoundError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        self.deregister(name)
        location = path
        name = ident(name)  # DataFusion lists directories and expands globs itself
        try:
            if fmt == "parquet":
                ext = _extension(path, ".parquet")
                self.ctx.register_parquet(name, location, file_extension=ext)
            elif fmt == "csv":
                self.ctx.register_csv(name, location, file_extension=_extension(path, ".csv"))
            elif fmt == "json":
                self.ctx.register_json(name, location, file_extension=_extension(path, ".json"))
            else:
                import pyarrow.feather as feather

                self.register_arrow(name, feather.read_table(paths.expand(path)[0]))
        except Exception as exc:
            raise SqlError(f"cannot register {path} as {name}: {exc}".splitlines()[0]) from None

    def register_arrow(self, name: str, data: pa.Table) -> None:
        self.deregister(name)
        # schema metadata (pandas' own, say) makes DataFusion 55 refuse some plans over the
        # table ("Physical input schema should be the same…" for a CROSS JOIN): drop it
        if data.schema.metadata:
            data = data.replace_schema_metadata(None)
        self.ctx.from_arrow(data, name=ident(name))

    def deregister(self, name: str) -> None:
        if self.ctx.table_exist(ident(name)):
            self.ctx.deregister_table(ident(name))

    def tables(self) -> list[str]:
        return sorted(self.ctx.catalog().schema().names())

    def has_table(self, name: str) -> bool:
        return self.ctx.table_exist(ident(name))

    def schema(self, name: str) -> pa.Schema:
        try:
            return self.ctx.table(ident(name)).schema()
        except Exception:
            hint = sqlerrors.did_you_mean(name, self.tables())
            raise PlanError(f"table {name} not found", hint=hint) from None


def ident(name: str) -> str:
    """``name`` as DataFusion must be told it: quoted when it is not all lower case
    (DataFusion folds unquoted names to lower case)."""
    return f'"{name}"' if name != name.lower() and not name.startswith('"') else name


def _extension(path: str, default: str) -> str:
    if any(ch in path for ch in "*?["):
        base = os.path.basename(path)
        return base[base.rfind(".") :] if "." in base else default
    if os.path.isfile(path):
        return os.path.splitext(path)[1] or default
    return default
