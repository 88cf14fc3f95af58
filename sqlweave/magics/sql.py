"""The ``%sql`` / ``%%sql`` and ``%sqlweave`` magics: parse arguments, call the Session, display."""

from __future__ import annotations

import shlex
from enum import Enum
from pathlib import Path
from typing import Any

import pyarrow as pa
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class, no_var_expand
from traitlets import Bool, Int, TraitError, Unicode, observe, validate

from .. import errors, frames
from ..engines.killable import Killable
from ..engines.registry import ENGINE_USAGE, engine_kind
from ..project import kernel_notebook, project_warehouse
from ..result import Result
from ..session import Session
from ..warehouse import WAREHOUSE_ENV, from_env
from .args import USAGE, parse_sql_line
from .bindings import result_binding
from .explain import ExplainView


class TableKind(str, Enum):
    """What ``%sqlweave tables`` lists: catalog tables and the notebook's DataFrames."""

    TABLE = "table"
    DATAFRAME = "dataframe"


SQLWEAVE_USAGE = """usage:
  %sqlweave register NAME PATH [--format parquet|csv|json|arrow]
  %sqlweave tables
  %sqlweave describe NAME
  %sqlweave engine [local|duckdb|ADDRESS]
  %sqlweave connect ADDRESS
  %sqlweave cluster start [--workers N] | stop | status"""


def notebook_warehouse() -> Path | None:
    """The project warehouse of the notebook this kernel runs (``JPY_SESSION_NAME``), found
    as ``sqlweave run`` finds it; None outside a notebook or a project with one."""
    notebook = kernel_notebook()
    return project_warehouse(notebook) if notebook is not None else None


@magics_class
class SqlWeave(Magics):
    """SQL cells on DataFusion (default), DuckDB or a sqlweave cluster.

    Configure with ``%config SqlWeave.display_limit = 50`` and friends.
    """

    display_limit = Int(20, help="Rows shown when a result is displayed.").tag(config=True)
    engine = Unicode(
        "local", help="Engine at start: 'local' (DataFusion), 'duckdb' or a cluster address."
    ).tag(config=True)
    lineage = Bool(True, help="Capture lineage after each successful statement.").tag(config=True)
    feedback = Bool(
        True, help="Print what each statement but the last did (created table t, ...)."
    ).tag(config=True)
    killable_joins = Unicode(
        Killable.NESTED_LOOP.value,
        help="Joins of at least a billion row pairs the embedded engine runs in a child process "
        "an interrupt kills: 'nested-loop' (and cross joins), 'joins' (hash joins too: their "
        "tables are copied to the child for each such query) or 'off'.",
    ).tag(config=True)
    warehouse = Unicode(
        "",
        help="Folder where created tables are saved as Parquet and registered from at start "
        f"(default: ${WAREHOUSE_ENV}, else the project warehouse of the kernel's notebook, "
        "found as `sqlweave run` finds it; else tables live as long as the kernel).",
    ).tag(config=True)

    session: Session | None = None  # set in __init__, after traitlets loaded the config
    cluster: Any = None  # a LocalCluster started by %sqlweave cluster start
    lineage_magics: Any = None  # set by load_ipython_extension

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        found = None if self.warehouse or from_env() else notebook_warehouse()
        self.session = Session(
            engine=self.engine,
            display_limit=self.display_limit,
            warehouse=self.warehouse or from_env() or found,
        )
        if found is not None and self.session.warehouse is not None:
            # the same lookup as `sqlweave run`: say where the tables come from
            count = len(self.session.warehouse.tables())
            print(
                f"warehouse: {self.session.warehouse.root} ({count} tables; the project's, "
                f"as `sqlweave run` uses it; %config SqlWeave.warehouse = '...' for another)"
            )
        self._apply_killable_joins()

    @validate("display_limit")
    def _valid_display_limit(self, proposal: dict[str, Any]) -> int:
        if proposal["value"] < 0:
            raise TraitError(f"SqlWeave.display_limit must be >= 0, not {proposal['value']}")
        return proposal["value"]

    @validate("engine")
    def _valid_engine(self, proposal: dict[str, Any]) -> str:
        if engine_kind(proposal["value"]) is None:
            raise TraitError(f"SqlWeave.engine {proposal['value']!r} is unknown: {ENGINE_USAGE}")
        return proposal["value"].strip()

    @validate("killable_joins")
    def _valid_killable_joins(self, proposal: dict[str, Any]) -> str:
        try:
            return Killable(proposal["value"]).value
        except ValueError:
            choices = ", ".join(repr(k.value) for k in Killable)
            raise TraitError(
                f"SqlWeave.killable_joins must be one of {choices}, not {proposal['value']!r}"
            ) from None

    @observe("killable_joins")
    def _killable_joins_changed(self, change: dict[str, Any]) -> None:
        self._apply_killable_joins()

    def _apply_killable_joins(self) -> None:
        """Give the embedded engine (not DuckDB, not a cluster) the killable-joins policy."""
        engine = self.session.engine if self.session is not None else None
        if hasattr(engine, "killable"):  # the embedded engine only
            engine.killable = Killable(self.killable_joins)

    @observe("display_limit")
    def _display_limit_changed(self, change: dict[str, Any]) -> None:
        if self.session is not None:
            self.session.display_limit = change["new"]

    @observe("warehouse")
    def _warehouse_changed(self, change: dict[str, Any]) -> None:
        if self.session is None:
            return
        try:
            names = self.session.set_warehouse(change["new"] or None)
        except errors.UsageError as exc:
            raise UsageError(str(exc)) from None
        if self.session.warehouse is not None:
            print(f"warehouse: {self.session.warehouse.root} ({len(names)} tables)")

    @observe("engine")
    def _engine_changed(self, change: dict[str, Any]) -> None:
        if self.session is not None:
            self.use_engine(change["new"])

    def use_engine(self, spec: Any) -> None:
        """Switch the session's engine, turning bad specs into ``UsageError``."""
        try:
            old = self.session.engine.name
            self.session.set_engine(spec)
        except errors.UsageError as exc:
            raise UsageError(str(exc)) from None
        self._apply_killable_joins()
        behind = self.session.left_behind
        if behind:
            print(
                f"note: {', '.join(behind)} stayed on {old} (tables made with SQL do not "
                f"follow an engine switch; %sqlweave engine {old} switches back to them)"
            )

    # ----- %sql / %%sql ---------------------------------------------------------------
    @no_var_expand  # `$1`, `{'a': 1}` are SQL, not IPython variable expansion
    @line_cell_magic
    def sql(self, line: str, cell: str | None = None) -> Any:
        """Run SQL: ``%sql SELECT ...`` or a ``%%sql [NAME <<] [--limit N] [--quiet]`` cell.

        ``:name`` binds the notebook variable ``name`` as a typed value; notebook
        DataFrames are queryable by their variable names.
        """
        args = parse_sql_line(line)
        if cell is not None and args.sql:
            raise UsageError(f"unexpected text on the %%sql line: {args.sql!r}\n{USAGE}")
        text = cell if cell is not None else args.sql
        if not text.strip():
            raise UsageError(f"no SQL to run\n{USAGE}")
        progress = self._progress()
        try:
            result = self.session.sql(
                text,
                namespace=self.shell.user_ns if self.shell is not None else {},
                feedback=print if self.feedback else None,
                progress=progress,
                result_name=self._binding(args, line, cell),
            )
        finally:
            if progress is not None:
                progress.close()  # the result (or the error) replaces it
        if args.limit is not None:
            result.display_limit = args.limit
        shown: Any = result
        if result.explain is not None:
            shown = ExplainView(result)
        if args.target:
            self.shell.user_ns[args.target] = shown
        return None if args.quiet else shown

    def _binding(self, args: Any, line: str, cell: str | None) -> str | None:
        """The notebook variable this call's result goes to (lineage records it as a dataset)."""
        if args.target:
            return args.target
        if args.quiet or self.shell is None:
            return None  # --quiet returns None: nothing is displayed, nothing bound to _
        return result_binding(self.shell, line, cell)

    def _progress(self) -> Any:
        if self.session.engine.name != "cluster":
            return None
        from .progress import progress_display

        return progress_display()

    # ----- %sqlweave ------------------------------------------------------------------
    @line_magic  # IPython expands {var} here, as in %cd: `%sqlweave register t {path}`
    def sqlweave(self, line: str) -> Any:
        """Catalog, engine and cluster commands; ``%sqlweave`` alone prints the usage."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"{exc}\n{SQLWEAVE_USAGE}") from None
        if not words:
            print(SQLWEAVE_USAGE)
            return None
        command, args = words[0], words[1:]
        handler = self._commands.get(command)
        if handler is None:
            raise UsageError(f"unknown command {command!r}\n{SQLWEAVE_USAGE}")
        try:
            return handler(self, args)
        except errors.UsageError as exc:
            raise UsageError(str(exc)) from None

    def _register(self, args: list[str]) -> None:
        fmt = None
        if "--format" in args:
            i = args.index("--format")
            if i + 1 >= len(args):
                raise UsageError("--format needs a value")
            fmt = args[i + 1]
            args = args[:i] + args[i + 2 :]
        if len(args) != 2:
            raise UsageError(f"register needs NAME and PATH\n{SQLWEAVE_USAGE}")
        name, path = args
        self.session.register(name, path, fmt)
        print(f"registered {name} ({self.session.schema(name).__len__()} columns) from {path}")

    def _frames(self) -> dict[str, Any]:
        """The notebook's DataFrames SQL can read by name (a catalog table of the same name
        wins, so those are left out)."""
        ns = self.shell.user_ns if self.shell is not None else {}
        catalog = {n.lower() for n in self.session.tables()}
        return {
            name: value
            for name, value in sorted(ns.items())
            if not name.startswith("_") and frames.is_frame(value) and name.lower() not in catalog
        }

    def _tables(self, args: list[str]) -> Result:
        names = self.session.tables()
        cols = [len(self.session.schema(n)) for n in names]
        kinds = [TableKind.TABLE.value] * len(names)
        for name, value in self._frames().items():
            try:
                width = len(frames.schema_of(value))
            except Exception:  # unreadable as a table: %sql says why when it is used
                width = None
            names.append(name)
            cols.append(width)
            kinds.append(TableKind.DATAFRAME.value)
        return self._table_result(
            pa.table(
                {
                    "table": pa.array(names, pa.string()),
                    "kind": pa.array(kinds, pa.string()),
                    "columns": pa.array(cols, pa.int32()),
                }
            )
        )

    def _describe(self, args: list[str]) -> Result:
        if len(args) != 1:
            raise UsageError(f"describe needs one table name\n{SQLWEAVE_USAGE}")
        frame = self._frames().get(args[0])
        if frame is not None:
            try:
                schema = frames.schema_of(frame)
            except Exception as exc:
                raise UsageError(frames.why_not_a_table(args[0], frame, exc)) from None
        else:
            schema = self.session.schema(args[0])
        return self._table_result(
            pa.table(
                {
                    "column": schema.names,
                    "type": [str(f.type) for f in schema],
                    "nullable": [f.nullable for f in schema],
                }
            )
        )

    def _engine(self, args: list[str]) -> None:
        if len(args) > 1:
            raise UsageError(f"engine takes one name\n{SQLWEAVE_USAGE}")
        if args:
            self.use_engine(args[0])
        print(f"engine: {self.session.engine.name}")

    def _cluster(self, args: list[str]) -> Any:
        from .cluster import cluster_command

        return cluster_command(args, self)

    def _connect(self, args: list[str]) -> Any:
        from .cluster import cluster_command

        return cluster_command(["connect", *args], self)

    def _table_result(self, table: pa.Table) -> Result:
        return Result(
            table=table, engine=self.session.engine.name, display_limit=max(table.num_rows, 1)
        )

    _commands = {
        "register": _register,
        "tables": _tables,
        "describe": _describe,
        "engine": _engine,
        "cluster": _cluster,
        "connect": _connect,
    }
