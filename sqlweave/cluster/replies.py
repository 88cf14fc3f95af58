"""What the coordinator sends back: results, EXPLAIN tables, errors as data, history rows.

Pure functions of values; the coordinator's loop only sends what they build.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from .. import errors
from ..explained import DistributedExplain
from . import protocol as P
from .fragments import DistributedPlan
from .journal import Record

#: DataFusion/Arrow error texts that are about the data, not about how a query was cut up:
#: running the query again on the coordinator would fail the same way
DATA_ERRORS = (
    "divide by zero",
    "cast error",
    "overflow",
    "parser error",
    "resources exhausted",
    "exchange buffer limit",
    "out of range",
)


def is_data_error(error: str) -> bool:
    """Whether a failure is about the data (the answer) rather than the distribution.

    >>> is_data_error("Arrow error: Divide by zero error"), is_data_error("Schema error: x")
    (True, False)
    """
    low = error.lower()
    return any(marker in low for marker in DATA_ERRORS)


def shift_position(exc: errors.SqlError, inner: str, whole: str) -> None:
    """Move an error's position from ``inner`` to ``whole``, of which ``inner`` is the end."""
    if exc.position is not None and whole.endswith(inner):
        offset = len(whole) - len(inner) + exc.position.to_offset(inner)
        exc.position = errors.Position.from_offset(whole, offset)
        if exc.sql is not None:
            exc.sql = whole


def encode_dictionaries(table: pa.Table, planned: pa.Schema | None) -> pa.Table:
    """``table`` with the dictionary columns the query's plan has.

    Substrait and the exchanges between stages carry a dictionary column as its values;
    the user asked for (and embedded DataFusion gives) the dictionary type.

    >>> planned = pa.schema([("d", pa.dictionary(pa.int32(), pa.string()))])
    >>> encode_dictionaries(pa.table({"d": ["a", "b", "a"]}), planned).schema.types
    [DictionaryType(dictionary<values=string, indices=int32, ordered=0>)]
    """
    if planned is None or len(planned) != table.num_columns:
        return table
    columns = list(table.columns)
    changed = False
    for i, want in enumerate(planned.types):
        have = columns[i].type
        if pa.types.is_dictionary(want) and not pa.types.is_dictionary(have):
            try:
                values = columns[i].cast(want.value_type)
                columns[i] = values.dictionary_encode().cast(want)
                changed = True
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                pass  # (left as values: the same answer in a plainer type)
    return pa.Table.from_arrays(columns, names=table.column_names) if changed else table


def failure(request_id: str, exc: BaseException) -> P.QueryFailed:
    """An exception as a client-facing failure message (errors travel as data)."""
    kinds = (
        (errors.ParseError, P.ErrorKind.PARSE),
        (errors.PlanError, P.ErrorKind.PLAN),
        (errors.UsageError, P.ErrorKind.USAGE),
        (errors.QueryCancelled, P.ErrorKind.CANCELLED),
    )
    kind = next((k for cls, k in kinds if isinstance(exc, cls)), P.ErrorKind.EXECUTION)
    if isinstance(exc, errors.SqlError):
        pos = exc.position
        return P.QueryFailed(
            request_id,
            kind,
            exc.message,
            line=pos.line if pos else None,
            column=pos.column if pos else None,
            hint=exc.hint,
        )
    text = str(exc).strip().splitlines()
    return P.QueryFailed(request_id, kind, text[0] if text else type(exc).__name__)


def history_entry(r: Record) -> P.HistoryEntry:
    return P.HistoryEntry(r.sql, r.state, round(r.seconds, 6), r.rows, r.bytes, r.at, r.error)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def explain_answer(plan: DistributedPlan, tasks: Any = None) -> DistributedExplain:
    """The answer to ``EXPLAIN`` of a distributed query: its plan as text and as a graph
    (its rows are :meth:`~sqlweave.explained.DistributedExplain.table`)."""
    from .explain import explain

    return explain(plan, tasks)
