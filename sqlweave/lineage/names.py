"""Dataset and column naming: how identifiers become the strings in lineage results.

The rule (also stated in :mod:`sqlweave.lineage.extract`):

* Unquoted identifiers are case-folded the way sqlglot normalises them for the dialect
  (lower case for postgres/DataFusion, duckdb, spark, mysql, ...; upper case for snowflake
  and oracle); quoted identifiers are kept as written. BigQuery table paths are case
  sensitive and kept as written; its column names are lower-cased.
* A table's qualification is kept as written (``catalog.db.table``, ``db.table`` or
  ``table``), parts joined with ``"."``. Nothing is added from a default catalog or schema.
* File-backed tables are named by their path or URI, verbatim: ``'data/x.parquet'``,
  ``read_parquet('data/x.parquet')``, Spark's ``parquet.`s3://b/x```, and the ``LOCATION``
  of ``CREATE EXTERNAL TABLE``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect, NormalizationStrategy

#: file formats Spark accepts as the "database" of a path table: parquet.`/data/x`
_PATH_FORMATS = frozenset({"parquet", "csv", "json", "orc", "avro", "delta", "text", "iceberg"})
#: dialects where ``SELECT a + b AS c, c * 2 AS d`` reads ``c`` from the earlier projection
_LATERAL_ALIAS_DIALECTS = frozenset(
    {"snowflake", "databricks", "spark", "duckdb", "redshift", "clickhouse", "teradata"}
)
_PATH_SUFFIXES = (
    ".parquet",
    ".csv",
    ".tsv",
    ".json",
    ".ndjson",
    ".jsonl",
    ".avro",
    ".orc",
    ".arrow",
    ".txt",
    ".gz",
    ".zst",
)


def looks_like_path(text: str) -> bool:
    """Whether a quoted name is a file path or URI rather than a table name."""
    lowered = text.lower()
    return "/" in text or "\\" in text or "://" in text or lowered.endswith(_PATH_SUFFIXES)


class Namer:
    """Turns sqlglot identifiers, tables and columns into normalised lineage names.

    Args:
        dialect: the sqlglot dialect the SQL was read with.
    """

    def __init__(self, dialect: Dialect) -> None:
        self._strategy = dialect.NORMALIZATION_STRATEGY
        #: whether a projection may use an earlier projection's alias ("lateral column alias")
        self.alias_refs = type(dialect).__name__.lower() in _LATERAL_ALIAS_DIALECTS
        self._tables_case_sensitive = type(dialect).__name__ == "BigQuery"

    def ident(self, name: str, quoted: bool = False) -> str:
        """Normalise one identifier's text."""
        strategy = self._strategy
        if strategy is NormalizationStrategy.CASE_SENSITIVE:
            return name
        if strategy is NormalizationStrategy.CASE_INSENSITIVE:
            return name.lower()
        if quoted:
            return name
        if strategy is NormalizationStrategy.UPPERCASE:
            return name.upper()
        return name.lower()

    def identifier(self, node: exp.Expression | None) -> str:
        """Normalise an ``Identifier`` (or any named node); ``""`` when absent."""
        if node is None:
            return ""
        if isinstance(node, exp.Identifier):
            return self.ident(node.this, node.quoted)
        return self.ident(node.name)

    def column(self, node: exp.Column | exp.Identifier | str) -> str:
        """Normalised column name."""
        if isinstance(node, str):
            return self.ident(node)
        if isinstance(node, exp.Column):
            return self.identifier(node.this) if isinstance(node.this, exp.Identifier) else "*"
        return self.identifier(node)

    def dataset(self, table: exp.Expression) -> str | None:
        """Name of the dataset a ``Table`` node refers to, or None for table functions.

        >>> import sqlglot
        >>> Namer(Dialect.get_or_raise("postgres")).dataset(sqlglot.exp.to_table('Db."T"'))
        'db.T'
        """
        if not isinstance(table, exp.Table):
            return None
        this = table.this
        if isinstance(this, exp.Literal):
            return this.name
        if isinstance(this, exp.Func):
            return _function_path(this)
        extra: list[exp.Expression] = []
        if isinstance(this, exp.Dot):
            # T-SQL's four-part ``server.db.schema.table``: sqlglot keeps the last two as a Dot
            *extra, this = this.flatten()
        if not isinstance(this, exp.Identifier) or not all(
            isinstance(p, exp.Identifier) for p in extra
        ):
            return None
        if this.quoted and looks_like_path(this.this):
            return this.this
        if not this.quoted and not table.args.get("db") and this.this.lower() == "dual":
            return None  # Oracle/MySQL's one-row pseudo table
        parts = [p for p in (table.args.get("catalog"), table.args.get("db"), *extra, this) if p]
        if self._tables_case_sensitive:
            name = ".".join(p.name for p in parts)
        else:
            name = ".".join(self.identifier(p) for p in parts)
        # T-SQL temporary tables keep their marker: #tmp and ##global are distinct names
        if this.args.get("global_"):
            name = "##" + name
        elif this.args.get("temporary"):
            name = "#" + name
        return name

    def catalog_name(self, name: str) -> str:
        """A name as a catalog reports it (schema keys and columns), in lineage form.

        Single-case names are treated as unquoted identifiers and case-folded, so a
        hand-written ``{"orders": ["id"]}`` matches ``SELECT ID FROM ORDERS`` in every
        dialect; a mixed-case name (``"UserID"`` of a parquet file) can only have been
        quoted in SQL, so it is kept verbatim.
        """
        if name.islower() or name.isupper() or not any(c.isalpha() for c in name):
            return self.ident(name)
        return name

    def dotted(self, name: str) -> str:
        """Normalise a dotted name written in SQL text (rename targets, external tables)."""
        if looks_like_path(name):
            return name
        parts = []
        for part in name.split("."):
            if len(part) > 1 and part[0] == part[-1] and part[0] in '"`[':
                parts.append(part[1:-1])
            elif self._tables_case_sensitive:
                parts.append(part)
            else:
                parts.append(self.ident(part))
        return ".".join(parts)


def _function_path(func: exp.Func) -> str | None:
    """``read_parquet('x.parquet')`` and friends name the file they read."""
    name = (func.sql_name() if not isinstance(func, exp.Anonymous) else func.name).lower()
    if not name.startswith(("read_", "parquet_scan", "delta_scan", "iceberg_scan", "csv_scan")):
        return None
    first = func.this if isinstance(func.this, exp.Expression) else None
    if first is None and func.expressions:
        first = func.expressions[0]
    if isinstance(first, exp.Array) and first.expressions:
        first = first.expressions[0]
    if isinstance(first, exp.Literal) and first.is_string:
        return first.this
    return None


def spark_path(table: exp.Table) -> str | None:
    """Spark's ``parquet.`path``` table: the path, else None."""
    this = table.this
    db = table.args.get("db")
    if (
        isinstance(this, exp.Identifier)
        and this.quoted
        and db is not None
        and db.name.lower() in _PATH_FORMATS
    ):
        return this.this
    return None


def _unquote(part: str) -> str:
    if len(part) > 1 and part[0] in '"`[' and part[-1] in '"`]':
        return part[1:-1]
    return part


class Catalog:
    """Columns per dataset, from a user schema, looked up by normalised name.

    Accepts ``{"db.t": ["a", "b"]}``, ``{"t": {"a": "INT"}}`` and sqlglot's nested form
    ``{"db": {"t": {"a": "INT"}}}``.
    """

    def __init__(self, schema: Mapping[str, Any] | None, namer: Namer) -> None:
        self._namer = namer
        self._columns: dict[str, tuple[str, ...]] = {}
        self._by_last: dict[str, list[str]] = {}
        if schema:
            self._load(schema, ())
        for name in self._columns:
            self._by_last.setdefault(name.rsplit(".", 1)[-1], []).append(name)

    def __bool__(self) -> bool:
        return bool(self._columns)

    def _load(self, mapping: Mapping[str, Any], prefix: tuple[str, ...]) -> None:
        for key, value in mapping.items():
            path = (*prefix, str(key))
            if (
                isinstance(value, Mapping)
                and value
                and all(isinstance(v, Mapping) for v in value.values())
            ):
                self._load(value, path)
                continue
            if isinstance(value, Mapping):
                columns = list(value)
            elif isinstance(value, (list, tuple)):
                columns = [c if isinstance(c, str) else str(c[0]) for c in value]
            else:
                continue
            parts = [q for p in path for q in (p.split(".") if not looks_like_path(p) else [p])]
            name = ".".join(self._namer.catalog_name(_unquote(p)) for p in parts)
            self._columns[name] = tuple(self._namer.catalog_name(str(c)) for c in columns)

    def define(self, dataset: str, columns: list[str] | tuple[str, ...]) -> None:
        """A table the script created (or replaced): later statements see these columns."""
        if dataset not in self._columns:
            self._by_last.setdefault(dataset.rsplit(".", 1)[-1], []).append(dataset)
        self._columns[dataset] = tuple(columns)

    def forget(self, dataset: str) -> None:
        """A table the script dropped."""
        if self._columns.pop(dataset, None) is not None:
            self._by_last[dataset.rsplit(".", 1)[-1]].remove(dataset)

    def rename(self, old: str, new: str) -> None:
        """A table the script renamed keeps its columns under the new name."""
        columns = self._columns.get(old)
        if columns is not None:
            self.forget(old)
            self.define(new, columns)

    def columns(self, dataset: str) -> tuple[str, ...] | None:
        """Columns of ``dataset`` (exact name, else a unique match on the last part)."""
        found = self._columns.get(dataset)
        if found is not None:
            return found
        candidates = self._by_last.get(dataset.rsplit(".", 1)[-1], [])
        matching = [c for c in candidates if c.endswith(dataset) or dataset.endswith(c)]
        if len(matching) == 1:
            return self._columns[matching[0]]
        return None
