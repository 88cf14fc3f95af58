"""The result of running SQL: an Arrow table plus what the notebook shows about it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from . import render
from .explained import DistributedExplain
from .extras import require

#: a result of EXPLAIN [ANALYZE] …, shown whole (plans are small)
_EXPLAIN = re.compile(r"\s*EXPLAIN\b", re.IGNORECASE)

if TYPE_CHECKING:
    import pandas
    import polars


@dataclass
class Result:
    """Rows of the last statement of a script, convertible without copies where possible.

    >>> import sqlweave
    >>> r = sqlweave.Session().sql("SELECT 1 AS x")
    >>> r.to_arrow().column("x").to_pylist()
    [1]
    >>> len(r)
    1
    """

    table: pa.Table
    sql: str = ""
    engine: str = ""
    elapsed_s: float | None = None
    #: "created table t", "inserted 3 rows into t", ... for statements without rows
    message: str | None = None
    #: things the user should know, e.g. a catalog table shadowing a notebook variable
    notices: tuple[str, ...] = ()
    #: rows shown by the notebook renderings
    display_limit: int = 20
    #: what every statement of the script did, in order
    messages: tuple[str, ...] = field(default=())
    #: the typed plan, when the statement was EXPLAIN of a distributed query
    explain: DistributedExplain | None = None

    # ----- conversions ---------------------------------------------------------------
    def to_arrow(self) -> pa.Table:
        """The rows as a ``pyarrow.Table`` (no copy)."""
        return self.table

    def to_pandas(self, **kwargs: Any) -> pandas.DataFrame:
        """The rows as a pandas DataFrame (``pyarrow.Table.to_pandas`` options pass through).

        Raises:
            MissingDependencyError: pandas is not installed (``pip install 'sqlweave[pandas]'``).
        """
        require("pandas", "Result.to_pandas()")
        return self.table.to_pandas(**kwargs)

    def to_polars(self) -> polars.DataFrame:
        """The rows as a polars DataFrame (zero-copy for most types).

        Raises:
            MissingDependencyError: polars is not installed (``pip install 'sqlweave[polars]'``).
        """
        polars = require("polars", "Result.to_polars()")
        return polars.from_arrow(self.table)  # type: ignore[return-value]

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        return self.table.__arrow_c_stream__(requested_schema)

    # ----- shape ----------------------------------------------------------------------
    def __len__(self) -> int:
        return self.table.num_rows

    @property
    def columns(self) -> list[str]:
        return self.table.column_names

    @property
    def schema(self) -> pa.Schema:
        return self.table.schema

    # ----- display -------------------------------------------------------------------
    def _display(self) -> render.Display:
        return render.Display(
            limit=self.display_limit,
            elapsed_s=self.elapsed_s,
            engine=self.engine,
            notices=self.notices,
            message=self.message,
            # plans are small and only useful whole
            plan=bool(_EXPLAIN.match(self.sql or "")),
        )

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        # one call for both renderings: IPython then skips its pretty-printer machinery
        return render.to_bundle(self.table, self._display())

    def _repr_html_(self) -> str:
        return render.to_html(self.table, self._display())

    def __repr__(self) -> str:
        return render.to_text(self.table, self._display())
