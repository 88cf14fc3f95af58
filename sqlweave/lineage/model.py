"""Immutable lineage values produced by :func:`sqlweave.lineage.extract`.

These are the contract between extraction, the graph, the exports and the
notebook: plain frozen dataclasses, no sqlglot objects inside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class TransformType(str, Enum):
    """OpenLineage column-lineage transformation type."""

    DIRECT = "DIRECT"
    INDIRECT = "INDIRECT"


class TransformSubtype(str, Enum):
    """OpenLineage column-lineage transformation subtype."""

    IDENTITY = "IDENTITY"
    TRANSFORMATION = "TRANSFORMATION"
    AGGREGATION = "AGGREGATION"
    JOIN = "JOIN"
    GROUP_BY = "GROUP_BY"
    FILTER = "FILTER"
    SORT = "SORT"
    WINDOW = "WINDOW"
    CONDITIONAL = "CONDITIONAL"


class StatementKind(str, Enum):
    """What a statement does, as far as lineage is concerned."""

    SELECT = "SELECT"
    CREATE_TABLE_AS = "CREATE_TABLE_AS"
    CREATE_TABLE = "CREATE_TABLE"
    CREATE_VIEW = "CREATE_VIEW"
    CREATE_EXTERNAL_TABLE = "CREATE_EXTERNAL_TABLE"
    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    MERGE = "MERGE"
    DROP = "DROP"
    RENAME = "RENAME"
    #: rows moved from one table into another: Hive EXCHANGE PARTITION, Snowflake SWAP WITH,
    #: Vertica SWAP_PARTITIONS_BETWEEN_TABLES (the source is read, the target written)
    EXCHANGE = "EXCHANGE"
    #: an edge a user declared for a Python cell (``%lineage declare a -> b``)
    DECLARED = "DECLARED"
    NO_LINEAGE = "NO_LINEAGE"  # TRUNCATE, SET, ANALYZE, CREATE FUNCTION, USE, ...
    UNPARSEABLE = "UNPARSEABLE"


@dataclass(frozen=True, order=True)
class ColumnRef:
    """A column of a dataset. ``column == "*"`` means "all columns" (no schema to expand)."""

    dataset: str
    column: str
    #: True when the column could not be attributed to a dataset with certainty
    unresolved: bool = False

    def __str__(self) -> str:
        return f"{self.dataset}.{self.column}"


@dataclass(frozen=True, order=True)
class ColumnEdge:
    """``source`` flows into ``target`` by a transformation of ``type``/``subtype``."""

    source: ColumnRef
    target: ColumnRef
    type: TransformType = TransformType.DIRECT
    subtype: TransformSubtype = TransformSubtype.IDENTITY


@dataclass(frozen=True)
class Span:
    """0-based ``[start, end)`` character span of a statement inside the script."""

    start: int
    end: int


@dataclass(frozen=True)
class StatementLineage:
    """Lineage of one statement."""

    kind: StatementKind
    sql: str
    span: Span
    reads: frozenset[str] = frozenset()
    writes: frozenset[str] = frozenset()
    column_edges: tuple[ColumnEdge, ...] = ()
    #: for DROP: datasets removed; for RENAME: (old, new) pairs
    drops: frozenset[str] = frozenset()
    renames: tuple[tuple[str, str], ...] = ()
    #: datasets both written and read inside one script (intermediate)
    intermediate: frozenset[str] = frozenset()
    #: targets changed in place whose own rows the statement reads (UPDATE/DELETE with a
    #: SET or WHERE on the target's columns, MERGE matching ON them): written, and not in
    #: ``reads`` (as sqllineage, OpenLineage and DataHub count them), but the new version
    #: depends on the old one, which staleness follows
    rewrites: frozenset[str] = frozenset()
    #: set when the statement could not be parsed: message and position
    error: str | None = None
    error_line: int | None = None
    error_column: int | None = None
    notes: tuple[str, ...] = field(default=())
    #: reads/writes found by patterns on text the parser rejected (see ``tolerant``)
    approximate: bool = False
