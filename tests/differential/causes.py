"""Root causes of the differences the differential suite finds, and a first-pass triage.

Every entry of :mod:`known_failures` names one :class:`Cause`. :func:`triage` guesses the
cause of a new finding from its SQL and the engines' answers; a human confirms it (the
minimal repros in ``known_failures.REPROS`` are the proof of each cause).
"""

from __future__ import annotations

import enum
import re

from .runner import Finding, Verdict


class Cause(str, enum.Enum):
    """Why the cluster's answer differs from embedded DataFusion's (one root cause each)."""

    DECLARED_SCHEMA = "external table's declared schema/options re-inferred by the cluster"
    DICTIONARY_DECODED = "dictionary-typed results arrive decoded"
    DICTIONARY_IN_LIST = "a dictionary inside a list breaks the result transport"
    DICTIONARY_NESTED = "a dictionary of dictionaries loses a level: wrong values (0) or bad frames"
    REGISTERED_DICTIONARY = (
        "dictionary columns of a registered Arrow table are decoded by the cluster"
    )
    INFO_SCHEMA_SETTING = (
        "SET/RESET datafusion.catalog.information_schema breaks the cluster's settings "
        "(df_settings not found; every later SET/RESET fails)"
    )
    TIES = "the answer depends on how ties are broken (ORDER BY ... LIMIT over equal keys)"
    SETTINGS = "SET settings not carried to the plans the cluster makes"
    TIME_ZONE = "AT TIME ZONE / time-zoned results become UTC"
    WINDOW_RANGE = "window RANGE offsets dropped"
    WINDOW_ZERO_FOLLOWING = "window frame '0 FOLLOWING' rejected"
    IGNORE_NULLS = "IGNORE NULLS dropped (window and aggregate)"
    WINDOW_FILTER = "FILTER dropped in window aggregates"
    WINDOW_DISTINCT = "DISTINCT dropped in window aggregates"
    STRUCT_LITERAL = "struct literals lose field names or fail"
    STRUCT_SUBSTRAIT = "struct columns through Substrait fail"
    NAN_LITERAL = "NaN/inf literals cannot be shipped"
    TABLE_FUNCTION = "table functions (generate_series) inside a planned stage"
    DUPLICATE_NAMES = "duplicate field names after joins of derived tables"
    EMPTY_JOIN = "uncorrelated EXISTS becomes a join without condition"
    SELECT_INTO = "SELECT ... INTO runs as a plain SELECT"
    LOG_ONE_ARG = "one-argument log() through Substrait"
    INTERVAL_TRANSPORT = "interval results kill the coordinator's transport"
    ZERO_COLUMN_STAGE = "a stage without columns loses its rows"
    HANG = "the cluster never answers"
    ARROW_TYPES = "the cluster widens or renames result types"
    UNBOUNDED = "UNBOUNDED/ordered source declarations lost"
    EMBEDDED_PLAN_CHECK = (
        "embedded DataFusion rejects its own plan (engine bug; the cluster answers)"
    )
    EMBEDDED_GROUPING_SORT = (
        "embedded DataFusion drops an ORDER BY key that WHERE fixes although ROLLUP/CUBE makes "
        "it NULL (engine bug; the cluster sorts right)"
    )
    EMBEDDED_TYPE_DRIFT = (
        "embedded DataFusion types an empty result by its logical plan, rows by its physical "
        "plan (sum(decimal) beside a DISTINCT aggregate: decimal(20,2) vs (30,2))"
    )
    OTHER = "not triaged yet"
    #: embedded DataFusion vs DuckDB (not the cluster)
    DUCKDB_SEMANTICS = "DuckDB and DataFusion differ (engine semantics)"


_RULES: tuple[tuple[Cause, str, str], ...] = (
    # (cause, regex on the SQL, regex on detail + answers); both must match
    (Cause.EMBEDDED_PLAN_CHECK, r"", r"^PlanError: Plan: \["),
    (
        Cause.EMBEDDED_GROUPING_SORT,
        r"(?i)group\s+by\s+(cube|rollup|grouping\s+sets)",
        r"^row \d+: ",
    ),
    (Cause.EMBEDDED_TYPE_DRIFT, r"", r"^types .*decimal128\(\d+, \d+\) != decimal128"),
    (Cause.INFO_SCHEMA_SETTING, r"", r"information_schema\.df_settings' not found"),
    (Cause.DICTIONARY_NESTED, r"(?i)dictionary\([^()]*dictionary\(|nested_dict", r""),
    (Cause.DICTIONARY_NESTED, r"", r"buffer_index out of range|dictionary<values=dictionary<"),
    (Cause.INTERVAL_TRANSPORT, r"", r"coordinator process died|KeyError: 2[12]"),
    (Cause.HANG, r"", r"no answer within"),
    (Cause.DICTIONARY_IN_LIST, r"", r"Dictionary field not found"),
    (Cause.STRUCT_SUBSTRAIT, r"", r"Named schema must contain names"),
    (Cause.WINDOW_ZERO_FOLLOWING, r"", r"Following bound must be positive"),
    (Cause.NAN_LITERAL, r"", r"Unsupported literal_type"),
    (Cause.TABLE_FUNCTION, r"", r"No table named '\w+\(\)'"),
    (Cause.DUPLICATE_NAMES, r"", r"duplicate (un)?qualified field name"),
    (Cause.EMPTY_JOIN, r"", r"join condition should not be empty"),
    (Cause.LOG_ONE_ARG, r"", r"Expect two arguments for logb"),
    (Cause.STRUCT_LITERAL, r"", r"Unsupported CAST from Struct|simplify_expressions"),
    (Cause.STRUCT_LITERAL, r"(?i)\bstruct\s*\(|\{\s*'?\w+'?\s*:", r""),
    (Cause.SELECT_INTO, r"(?i)\binto\b|\bcpu\b", r"not found|doesn't exist"),
    (Cause.IGNORE_NULLS, r"(?i)ignore\s+nulls", r""),
    (Cause.WINDOW_FILTER, r"(?i)filter\s*\(\s*where\b[^;]*?\)\s*over\b", r""),
    (Cause.WINDOW_DISTINCT, r"(?i)\(\s*distinct[^)]*\)\s*over", r""),
    (
        Cause.WINDOW_RANGE,
        r"(?i)range\s+between\s+(?!unbounded\s+preceding\s+and\s+(current|unbounded))",
        r"",
    ),
    (Cause.TIME_ZONE, r"(?i)at\s+time\s+zone", r""),
    (Cause.DICTIONARY_DECODED, r"", r"types .*dictionary<"),
    (Cause.DICTIONARY_DECODED, r"(?i)dictionary\(", r""),
)


def triage(f: Finding, file_text: str = "") -> Cause:
    """A first guess at ``f``'s root cause; ``file_text`` is the corpus file's text, if any."""
    if f.verdict is Verdict.DUCKDB_DIFFERS:
        return Cause.DUCKDB_SEMANTICS
    evidence = " ".join((f.detail, f.embedded, f.cluster))
    registered = f.key.startswith("registered:")
    if registered and re.search(
        r"dictionary<[^>]*> != \w|'Dictionary\(\w+, \w+\)',?\) != \('", f.detail
    ):
        return Cause.REGISTERED_DICTIONARY
    limit_then_order = re.search(r"(?is)\blimit\s+\d+.*\border\s+by\b", f.sql)
    if (
        registered
        and f.verdict is Verdict.WRONG
        and limit_then_order
        and f.detail.startswith("row")
    ):
        return Cause.TIES
    for cause, sql_re, ev_re in _RULES:
        if (not sql_re or re.search(sql_re, f.sql)) and (not ev_re or re.search(ev_re, evidence)):
            return cause
    if re.search(r"(?i)^\s*set\s", file_text, re.M) and _set_sensitive(f):
        return Cause.SETTINGS
    if re.search(r"(?i)create\s+(unbounded\s+)?external\s+table", file_text):
        if f.verdict is Verdict.EMBEDDED_ONLY_ERROR and "pipeline breaking" in f.embedded:
            return Cause.UNBOUNDED
        return Cause.DECLARED_SCHEMA
    if f.detail.startswith("types"):
        return Cause.ARROW_TYPES
    return Cause.OTHER


def _set_sensitive(f: Finding) -> bool:
    text = " ".join((f.detail, f.embedded, f.cluster))
    return bool(
        re.search(r"Decimal|Float64|timezone|tz=|order differs|\^", text + f.sql)
        or f.verdict is Verdict.EMBEDDED_ONLY_ERROR
    )
