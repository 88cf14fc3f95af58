"""What a view shows after the tables under it are replaced: engines differ.

DuckDB binds a view's query by name each time the view is read, so a view over a table
replaced later shows the new rows: the view's cell does not go stale, and a query reading
the view reads the view's tables as they are when it runs. DataFusion (and the cluster, whose
coordinator keeps DataFusion views) keeps the plan the view was created with: the view goes
on showing the old rows until it is created again, so it is as stale as a table built from
them. Measured on both engines: ``CREATE VIEW big AS SELECT * FROM t``, ``CREATE OR REPLACE
TABLE t ...``, ``SELECT count(*) FROM big`` counts the new rows on DuckDB, the old on
DataFusion.

    >>> from sqlweave.lineage.model import Span, StatementKind, StatementLineage
    >>> from sqlweave.lineage.runs import Run, RunInfo
    >>> view = StatementLineage(StatementKind.CREATE_VIEW, "", Span(0, 0))
    >>> [binds_late(Run(RunInfo.new(sql="", engine=e), view)) for e in ("duckdb", "datafusion")]
    [True, False]
"""

from __future__ import annotations

from .model import StatementKind
from .runs import Run

#: engines whose views bind their query by name at each read (not when created)
LATE_BINDING_ENGINES = frozenset({"duckdb"})


def binds_late(run: Run) -> bool:
    """Whether ``run`` created a view that reads its tables afresh at every query."""
    return (
        run.lineage is not None
        and run.lineage.kind is StatementKind.CREATE_VIEW
        and run.info.engine in LATE_BINDING_ENGINES
    )
