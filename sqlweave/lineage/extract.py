"""Extract table and column lineage from a SQL script.

>>> from sqlweave.lineage import extract
>>> [(s.kind.value, sorted(s.reads), sorted(s.writes)) for s in extract(
...     "CREATE TABLE b AS SELECT x FROM a; SELECT * FROM b")]
[('CREATE_TABLE_AS', ['a'], ['b']), ('SELECT', ['b'], [])]

The passes, in order (:data:`PASSES`): split the script on ``;`` tokens
(:mod:`.split`), parse and analyse each statement (:mod:`.statements` dispatches to
:mod:`.dml` and :mod:`.ddl`; column edges come from :mod:`.columns`), then mark datasets
that the script writes and later reads as intermediate (a rename carries that over to the
new name, a drop ends it).

Statement kinds: DROP records ``drops``; ``ALTER ... RENAME``, MySQL ``RENAME TABLE`` and
T-SQL ``sp_rename`` record ``renames`` (their reads/writes stay empty); TRUNCATE, SET, USE,
ANALYZE, GRANT, CREATE FUNCTION/INDEX/SCHEMA, ... are ``NO_LINEAGE``. UPDATE/DELETE/MERGE
targets are writes; a MERGE target is also a read (ON matches its rows), an UPDATE target
when SET or WHERE reads its columns: every column edge's source is among the reads.

Naming rule for datasets and columns:

* Unquoted identifiers are case-folded as sqlglot normalises them for the dialect (lower
  case for DataFusion/postgres, duckdb, spark, mysql...; upper case for snowflake/oracle);
  quoted identifiers are kept verbatim. BigQuery table paths keep their case.
* Qualification is kept as written (``catalog.db.table``), parts joined by ``"."``.
* File tables are named by their path/URI verbatim (``'data/x.parquet'``,
  ``read_parquet('x.parquet')``, the ``LOCATION`` of ``CREATE EXTERNAL TABLE``).
* A query that writes nothing flows into the dataset ``"<result>"``
  (:data:`sqlweave.lineage.analysis.RESULT`); its columns are the output names, or
  ``_col_<i>`` for unnamed expressions.
* Without a schema, ``*`` stays a ``dataset.*`` column and a column several tables could
  own is reported once per candidate with ``ColumnRef.unresolved`` set.

Procedural scripts are opened up by the splitter (:mod:`.procedural`): the statements of a
procedure body or scripting block are analysed like top-level ones. A table a statement
creates (or clones, renames, drops) changes the catalog later statements of the script see.

Extraction never raises on SQL text: a statement that cannot be tokenized or parsed becomes
a :class:`StatementLineage` of kind ``UNPARSEABLE`` carrying the error and its position; when
its text names tables they are reported with ``approximate`` set (:mod:`.tolerant`), and a
chunk that is several statements without ``;`` between them (T-SQL) is cut apart first.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError

from ..errors import Position
from . import repairs, tolerant
from .analysis import Facts, StatementAnalyzer
from .model import ColumnEdge, Span, StatementKind, StatementLineage
from .names import Catalog, Namer
from .split import Chunk, split, split_piece
from .statements import analyze

#: dialect used when none is given: DataFusion's SQL is postgres-like
DEFAULT_DIALECT = "postgres"
_ALIASES = {"datafusion": DEFAULT_DIALECT, "": DEFAULT_DIALECT}

Schema = Mapping[str, Any]

# sqlglot logs a warning for every statement it keeps as a raw command (DataFusion's
# external-table OPTIONS, EXPLAIN, ...); in a notebook that is noise under every cell. The
# filter only drops records while this module is parsing, in this thread or task.
_PARSING = contextvars.ContextVar("sqlweave_lineage_parsing", default=False)


class _WhileParsing(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _PARSING.get()


_SQLGLOT_LOG = logging.getLogger("sqlglot")
if not any(isinstance(f, _WhileParsing) for f in _SQLGLOT_LOG.filters):
    _SQLGLOT_LOG.addFilter(_WhileParsing())


def extract(
    sql: str, dialect: str | None = None, schema: Schema | None = None
) -> list[StatementLineage]:
    """Lineage of every statement in ``sql``, in script order.

    Args:
        sql: one statement or a ``;``-separated script.
        dialect: a sqlglot dialect name; None (or ``"datafusion"``) reads DataFusion's
            postgres-like SQL.
        schema: table -> columns (a list of names or a name -> type mapping; sqlglot's
            nested ``{db: {table: {col: type}}}`` form works too). Used to expand ``*``
            and to attribute unqualified columns.

    Returns:
        One :class:`StatementLineage` per non-empty statement.

    Raises:
        ValueError: ``dialect`` is not a dialect sqlglot knows (never for bad SQL).

    >>> [str(e.source) + " -> " + str(e.target) for e in extract(
    ...     "INSERT INTO b (y) SELECT x FROM a")[0].column_edges]
    ['a.x -> b.y']
    """
    dialect_obj = dialect_of(dialect)
    namer = Namer(dialect_obj)
    analyzer = StatementAnalyzer(namer, Catalog(schema, namer), dialect_obj)
    text = sql if isinstance(sql, str) else str(sql)
    results: list[StatementLineage] = []
    for step in PASSES:
        results = step(text, dialect_obj, analyzer, results)
    return results


def dialect_of(dialect: str | None) -> Dialect:
    """The sqlglot dialect for a name (None and ``"datafusion"`` read postgres-like SQL).

    Raises:
        ValueError: not a dialect sqlglot knows.
    """
    return Dialect.get_or_raise(_ALIASES.get((dialect or "").lower(), dialect))


def _statements(
    sql: str, dialect: Dialect, analyzer: StatementAnalyzer, _: list[StatementLineage]
) -> list[StatementLineage]:
    try:
        chunks = split(sql, dialect)
    except Exception as error:  # the splitter is defensive; this is the last resort
        chunks = [Chunk(0, len(sql), None, str(error))]
    results = []
    for chunk in chunks:
        results.extend(_statement(sql, chunk, dialect, analyzer))
    return results


def _statement(
    sql: str, chunk: Chunk, dialect: Dialect, analyzer: StatementAnalyzer
) -> list[StatementLineage]:
    text = sql[chunk.start : chunk.end]
    span = Span(chunk.start, chunk.end)
    if chunk.tokens is None:
        failed = _unparseable(sql, text, span, chunk.error or "cannot tokenize", None, None)
        return [_approximate(failed, analyzer)]
    try:
        parsed = _parse(sql, chunk, dialect)
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        message = first.get("description") or str(error)
        failed = _unparseable(sql, text, span, message, first.get("line"), first.get("col"))
    except Exception as error:
        failed = _unparseable(sql, text, span, str(error) or type(error).__name__, None, None)
    else:
        if len(parsed) == 1 and isinstance(parsed[0], exp.Command):
            # sqlglot keeps what it cannot parse as a raw command: a repair may parse it
            repaired = _repaired(text, span, dialect, analyzer)
            if repaired is not None:
                return repaired
        return _analyzed(parsed, text, span, analyzer)
    return (
        _repaired(text, span, dialect, analyzer)
        or _resplit(sql, chunk, dialect, analyzer)
        or [_approximate(failed, analyzer)]
    )


def _repaired(
    text: str, span: Span, dialect: Dialect, analyzer: StatementAnalyzer
) -> list[StatementLineage] | None:
    """T-SQL the parser rejects but :mod:`.repairs` can rewrite (``+=``, ``OUTPUT INTO``)."""
    fixed = repairs.repair(text, dialect)
    if fixed is None:
        return None
    token = _PARSING.set(True)
    try:
        parsed = [s for s in dialect.parse(fixed.text) if s is not None]
    except Exception:
        return None
    finally:
        _PARSING.reset(token)
    if len(parsed) != 1 or isinstance(parsed[0], exp.Command):
        return None
    if fixed.output is not None:
        parsed[0].set("returning", fixed.output)
    return _analyzed(parsed, text, span, analyzer)


def _parse(sql: str, chunk: Chunk, dialect: Dialect) -> list[Any]:
    token = _PARSING.set(True)
    try:
        return dialect.parser().parse(list(chunk.tokens or ()), sql)
    finally:
        _PARSING.reset(token)


def _resplit(
    sql: str, chunk: Chunk, dialect: Dialect, analyzer: StatementAnalyzer
) -> list[StatementLineage] | None:
    """A chunk holding several statements without ``;`` between them (T-SQL): cut it where
    a statement keyword starts one, taking the longest prefix that parses each time."""
    text = sql[chunk.start : chunk.end]
    cuts = [chunk.start + b for b in tolerant.boundaries(text)]
    if not cuts:
        return None
    results: list[StatementLineage] = []
    start = chunk.start
    while start < chunk.end:
        whole = [chunk.end] if start != chunk.start else []  # the whole chunk failed already
        for stop in whole + sorted((c for c in cuts if c > start), reverse=True):
            piece = _piece(sql, start, stop, dialect)
            if piece is None:
                continue
            try:
                parsed = _parse(sql, piece, dialect)
            except Exception:
                continue
            span = Span(piece.start, piece.end)
            results.extend(_analyzed(parsed, sql[piece.start : piece.end], span, analyzer))
            start = stop
            break
        else:
            return None  # some piece parses in no way: the chunk is not a run of statements
    return results or None


def _piece(sql: str, start: int, stop: int, dialect: Dialect) -> Chunk | None:
    while stop > start and sql[stop - 1].isspace():
        stop -= 1
    chunks = split_piece(sql, start, stop, dialect)
    return chunks[0] if len(chunks) == 1 and chunks[0].tokens is not None else None


def _approximate(failed: StatementLineage, analyzer: StatementAnalyzer) -> StatementLineage:
    """An unparseable statement with the tables its text names, marked approximate."""
    reads, writes = tolerant.approximate_tables(failed.sql, analyzer.namer)
    if not reads and not writes:
        return failed
    return replace(failed, reads=frozenset(reads), writes=frozenset(writes), approximate=True)


def _analyzed(
    parsed: list[Any], text: str, span: Span, analyzer: StatementAnalyzer
) -> list[StatementLineage]:
    results = []
    for statement in parsed:
        if statement is None:
            continue
        try:
            facts = analyze(analyzer, statement)
        except Exception as error:  # a bug of ours must not hide the rest of the script
            message = (
                "too deeply nested to analyse (RecursionError)"
                if isinstance(error, RecursionError)
                else f"analysis failed: {error!r}"
            )
            # the tolerant reading still names the tables (a CTAS target stays a write)
            failed = StatementLineage(
                kind=StatementKind.UNPARSEABLE, sql=text, span=span, error=message
            )
            rescued = _approximate(failed, analyzer)
            if rescued.approximate:
                results.append(rescued)
                continue
            facts = Facts(StatementKind.NO_LINEAGE, notes=[message])
        results.append(_lineage(facts, text, span))
    return results


def _lineage(facts: Facts, text: str, span: Span) -> StatementLineage:
    return StatementLineage(
        kind=facts.kind,
        sql=text,
        span=span,
        reads=frozenset(facts.reads),
        writes=frozenset(facts.writes),
        rewrites=frozenset(facts.rewrites - facts.reads),
        column_edges=tuple(sorted(facts.edges, key=_edge_order)),
        drops=frozenset(facts.drops),
        renames=tuple(facts.renames),
        notes=tuple(facts.notes),
    )


def _edge_order(edge: ColumnEdge) -> tuple[str, str, bool, str, str, str, str]:
    """Sort key for edges: by source, then target, then type (cheaper than dataclass order)."""
    source, target = edge.source, edge.target
    return (
        source.dataset,
        source.column,
        source.unresolved,
        target.dataset,
        target.column,
        edge.type.value,
        edge.subtype.value,
    )


def _unparseable(
    sql: str, text: str, span: Span, message: str, line: int | None, column: int | None
) -> StatementLineage:
    if line is None:
        pos = Position.from_offset(sql, span.start)
        line, column = pos.line, pos.column
    return StatementLineage(
        kind=StatementKind.UNPARSEABLE,
        sql=text,
        span=span,
        error=message,
        error_line=line,
        error_column=column,
    )


def _intermediate(
    sql: str, dialect: Dialect, analyzer: StatementAnalyzer, results: list[StatementLineage]
) -> list[StatementLineage]:
    """Datasets written by one statement and read by a later one are intermediate.

    A rename carries "written by this script" over to the new name; a drop ends it.
    """
    del sql, dialect, analyzer
    written: set[str] = set()
    intermediate: set[str] = set()
    for result in results:
        intermediate |= result.reads & written
        written |= result.writes
        written -= result.drops
        for old, new in result.renames:
            if old in written:
                written.discard(old)
                written.add(new)
    if not intermediate:
        return results
    return [_with_intermediate(r, intermediate) for r in results]


def _with_intermediate(result: StatementLineage, intermediate: set[str]) -> StatementLineage:
    mine = (result.reads | result.writes) & intermediate
    return replace(result, intermediate=frozenset(mine)) if mine else result


Pass = Callable[[str, Dialect, StatementAnalyzer, list[StatementLineage]], list[StatementLineage]]

#: the extraction passes, applied in order
PASSES: tuple[Pass, ...] = (_statements, _intermediate)
