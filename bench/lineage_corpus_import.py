"""Build lineage corpora (for ``bench/lineage_corpus.py``) from other projects' test suites.

    python bench/lineage_corpus_import.py sqllineage REPO_DIR OUT.jsonl
    python bench/lineage_corpus_import.py openlineage REPO_DIR OUT.jsonl
    python bench/lineage_corpus_import.py sql-metadata REPO_DIR OUT.jsonl
    python bench/lineage_corpus_import.py sqlfluff REPO_DIR OUT.jsonl

``sqllineage``: reata/sqllineage's ``tests/sql`` (a checkout at ``REPO_DIR``). Their test
functions call ``assert_table_lineage_equal`` / ``assert_column_lineage_equal`` with the SQL,
dialect and expected answer; the tests are run under pytest with a recording stand-in for
those helpers (and a stub ``sqllineage`` package), so every expectation becomes one case
exactly as the project wrote it. Expected names are sqllineage's: ``<default>`` schema for
unqualified tables, columns of ambiguous origin with no table.

``openlineage``: OpenLineage/OpenLineage's ``integration/sql/impl/tests`` (Rust). Each
``#[test]`` function with one ``test_sql*`` / ``parse_sql`` call and a ``TableLineage`` and/or
``ColumnLineage`` expectation becomes a case; functions in other shapes are skipped.

``sql-metadata``: macbre/sql-metadata's ``test/`` (table names only, reads and writes
together): each ``Parser(sql).tables == [...]`` is recorded by a stand-in ``Parser`` under
pytest. The dialect is guessed from the test file (``test_mssql_server`` -> tsql, ...).

``sqlfluff``: sqlfluff's dialect test fixtures (``test/fixtures/dialects/<dialect>/*.sql``),
one case per file, with no expected answer: parse-ability only (``"parse_only": true``), for
the dialects sqlglot also knows.

Keep the corpora out of git (e.g. under ``/work/corpus-cache/lineage/``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

#: sqlfluff dialect names (sqllineage's) -> sqlglot's
SQLLINEAGE_DIALECTS = {
    "ansi": None,
    "non-validating": None,
    "sparksql": "spark",
    "greenplum": "postgres",
    "mariadb": "mysql",
    "db2": None,
    "exasol": None,
    "vertica": None,
}

_STUB = {
    "sqllineage/__init__.py": 'SQLPARSE_DIALECT = "non-validating"\n',
    "sqllineage/utils/__init__.py": "",
    "sqllineage/utils/entities.py": (
        "from collections import namedtuple\n"
        'ColumnQualifierTuple = namedtuple("ColumnQualifierTuple", ["column", "qualifier"])\n'
    ),
    "sqllineage/core/__init__.py": "",
    "sqllineage/core/models.py": (
        "class Schema:\n"
        "    def __init__(self, name=None):\n"
        "        self.name = name\n"
        "class Table:\n"
        "    def __init__(self, name, schema=None, **kw):\n"
        "        self.raw = name if schema is None or schema.name is None"
        ' else f"{schema.name}.{name}"\n'
        "class Path:\n"
        "    def __init__(self, uri):\n"
        "        self.raw = uri\n"
    ),
    "sqllineage/core/metadata_provider.py": (
        "class MetaDataProvider:\n"
        "    def __init__(self, schemas=None):\n"
        "        self.schemas = schemas or {}\n"
    ),
    "sqllineage/core/metadata/__init__.py": "",
    "sqllineage/core/metadata/dummy.py": (
        "from ..metadata_provider import MetaDataProvider\n"
        "class DummyMetaDataProvider(MetaDataProvider):\n"
        "    pass\n"
    ),
    "sqllineage/core/parser/__init__.py": "",
    "sqllineage/core/parser/sqlfluff/__init__.py": "",
    "sqllineage/core/parser/sqlfluff/analyzer.py": "class SqlFluffLineageAnalyzer: pass\n",
    "sqllineage/core/parser/sqlparse/__init__.py": "",
    "sqllineage/core/parser/sqlparse/analyzer.py": "class SqlParseLineageAnalyzer: pass\n",
}

_RECORDER = '''"""Records each expectation of sqllineage's tests as one corpus line."""
import inspect, json, os
from sqllineage.core.metadata.dummy import DummyMetaDataProvider

def _name(t):
    return t if isinstance(t, str) else t.raw

def _record(case):
    frame = inspect.stack()[2]
    case["origin"] = f"{os.path.relpath(frame.filename)}::{frame.function}"
    with open(os.environ["CORPUS_OUT"], "a") as f:
        f.write(json.dumps(case) + "\\n")

def assert_table_lineage_equal(sql, source_tables=None, target_tables=None, dialect="ansi",
                               test_sqlfluff=True, test_sqlparse=True):
    _record({"sql": sql, "dialect": dialect,
             "reads": sorted(_name(t) for t in (source_tables or ())),
             "writes": sorted(_name(t) for t in (target_tables or ()))})

def assert_column_lineage_equal(sql, column_lineages=None, dialect="ansi",
                                metadata_provider=None, test_sqlfluff=True, test_sqlparse=True):
    edges = [[[s.qualifier, s.column], [t.qualifier, t.column]]
             for s, t in (column_lineages or ())]
    schema = metadata_provider.schemas if metadata_provider is not None else None
    _record({"sql": sql, "dialect": dialect, "columns": edges, "schema": schema or None})

def generate_metadata_providers(test_schemas):
    return [DummyMetaDataProvider(test_schemas)]
'''


def record_sqllineage(repo: Path, work: Path) -> list[dict[str, Any]]:
    """Run sqllineage's ``tests/sql`` with the recorder; the raw recorded expectations."""
    tests = work / "tests"
    shutil.copytree(repo / "tests", tests, ignore=shutil.ignore_patterns("core"))
    for name, text in _STUB.items():
        path = work / "stub" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (tests / "helpers.py").write_text(_RECORDER)
    for path in tests.rglob("*.py"):  # one metadata provider instead of two
        text = path.read_text()
        path.write_text(text.replace('ids=["dummy", "sqlalchemy"]', 'ids=["dummy"]'))
    out = work / "raw.jsonl"
    env = {**os.environ, "CORPUS_OUT": str(out), "PYTHONPATH": str(work / "stub")}
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/sql"],
        cwd=work,
        env=env,
        check=False,
        capture_output=True,
    )
    return [json.loads(line) for line in out.read_text().splitlines()]


def sqllineage_cases(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Recorded expectations -> corpus cases (deduplicated; sqlparse-only ones dropped)."""
    cases: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in raw:
        dialect = item["dialect"]
        if dialect == "non-validating":
            continue  # the same SQL is recorded for sqlfluff's dialect too
        case: dict[str, Any] = {
            "sql": item["sql"],
            "dialect": SQLLINEAGE_DIALECTS.get(dialect, dialect),
            "schema": item.get("schema"),
            "reads": item.get("reads"),
            "writes": item.get("writes"),
            "columns": None,
        }
        if "columns" in item:
            case["columns"] = [
                [[s[0] or "?", s[1]], [t[0] or "?", t[1]]] for s, t in item["columns"]
            ]
        key = json.dumps(case, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        case["id"] = f"sqllineage:{item['origin']}:{dialect}:{len(cases)}"
        cases.append(case)
    return cases


#: sql-metadata test files that are about one dialect
SQL_METADATA_DIALECTS = {
    "test_mssql_server.py": "tsql",
    "test_hive.py": "hive",
    "test_redshift.py": "redshift",
    "test_postgress.py": "postgres",
    "test_sqlite.py": "sqlite",
}

_SQL_METADATA_STUB = '''"""Records ``Parser(sql).tables == expected`` as one corpus line."""
import inspect, json, os

class _Anything:
    def __eq__(self, other):
        return True
    def __getattr__(self, name):
        return _Anything()
    def __call__(self, *a, **k):
        return _Anything()
    def __iter__(self):
        return iter(())
    def __getitem__(self, key):
        return _Anything()
    def __len__(self):
        return 0
    __hash__ = object.__hash__

class _Tables(_Anything):
    def __init__(self, sql):
        self.sql = sql
    def __eq__(self, other):
        frame = inspect.stack()[1]
        with open(os.environ["CORPUS_OUT"], "a") as f:
            f.write(json.dumps({"sql": self.sql, "tables": list(other),
                                "origin": f"{os.path.basename(frame.filename)}::{frame.function}"}) + "\\n")
        return True

class Parser(_Anything):
    def __init__(self, sql="", *a, **k):
        self._sql = sql
    @property
    def tables(self):
        return _Tables(self._sql)
'''


def record_sql_metadata(repo: Path, work: Path) -> list[dict[str, Any]]:
    """Run sql-metadata's tests with a recording ``Parser``; the raw recorded expectations."""
    shutil.copytree(repo / "test", work / "test")
    package = work / "stub" / "sql_metadata"
    package.mkdir(parents=True)
    anything = "from .parser import _Anything\ndef __getattr__(name):\n    return _Anything()\n"
    (package / "__init__.py").write_text("from .parser import Parser\n" + anything)
    (package / "parser.py").write_text(_SQL_METADATA_STUB)
    for name in ("keywords_lists", "token", "utils", "compat", "generalizator"):
        (package / f"{name}.py").write_text(anything)
    out = work / "raw.jsonl"
    env = {**os.environ, "CORPUS_OUT": str(out), "PYTHONPATH": str(work / "stub")}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--continue-on-collection-errors",
            "test",
        ],
        cwd=work,
        env=env,
        check=False,
        capture_output=True,
    )
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def sql_metadata_cases(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in raw:
        key = json.dumps([item["sql"], item["tables"]])
        if key in seen or not isinstance(item["sql"], str):
            continue
        seen.add(key)
        origin = item["origin"]
        cases.append(
            {
                "id": f"sql-metadata:{origin}:{len(cases)}",
                "sql": item["sql"],
                "dialect": SQL_METADATA_DIALECTS.get(origin.split("::")[0], "mysql"),
                "schema": None,
                "reads": None,
                "writes": None,
                "tables": item["tables"],
                "columns": None,
            }
        )
    return cases


#: sqlfluff dialect folders -> sqlglot dialects (folders sqlglot has no dialect for are skipped)
SQLFLUFF_DIALECTS = {
    "ansi": None,
    "greenplum": "postgres",
    "mariadb": "mysql",
    "sparksql": "spark",
    "impala": "hive",
    "vertica": "postgres",
}
_SQLFLUFF_SKIP = frozenset({"db2", "flink", "soql"})


def sqlfluff_cases(repo: Path) -> list[dict[str, Any]]:
    """One parse-only case per sqlfluff dialect fixture file."""
    cases: list[dict[str, Any]] = []
    for folder in sorted((repo / "test/fixtures/dialects").iterdir()):
        if not folder.is_dir() or folder.name in _SQLFLUFF_SKIP:
            continue
        dialect = SQLFLUFF_DIALECTS.get(folder.name, folder.name)
        for path in sorted(folder.glob("*.sql")):
            cases.append(
                {
                    "id": f"sqlfluff:{folder.name}/{path.name}",
                    "sql": path.read_text(errors="replace"),
                    "dialect": dialect,
                    "schema": None,
                    "reads": None,
                    "writes": None,
                    "columns": None,
                    "parse_only": True,
                }
            )
    return cases


#: OpenLineage's dialect names -> sqlglot's
OPENLINEAGE_DIALECTS = {"generic": None, "sqlserver": "tsql", "mssql": "tsql", "ansi": None}
_RUST_STRING = re.compile(r'r(#*)"(.*?)"\1|"((?:[^"\\]|\\.)*)"', re.DOTALL)
_CALL = re.compile(
    r"\b(test_sql|test_sql_dialect|test_multiple_sql|test_multiple_sql_dialect|parse_sql)\s*\("
)
_RUST_DIALECT = re.compile(r"&(\w+)Dialect\s*\{\s*\}")
_TABLE_ITEM = re.compile(
    r'(?:table\(|_tbl\(\s*(?:Some\("(?P<db>[^"]*)"\)|None)\s*,\s*'
    r'(?:Some\("(?P<schema>[^"]*)"\)|None)\s*,|DbTableMeta::new_default_dialect\w*\()\s*'
    r'"(?P<name>(?:[^"\\]|\\.)*)"'
)


def _rust_unescape(body: str) -> str:
    body = re.sub(r"\\\n\s*", "", body)  # a line continuation
    return re.sub(r'\\(["\\nt])', lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), body)


def _balanced(text: str, start: int) -> int:
    """Index after the bracket closing the one at ``start`` (strings skipped)."""
    depth = 0
    i = start
    while i < len(text):
        m = _RUST_STRING.match(text, i)
        if m and text[i] in 'r"' and (text[i] == '"' or text[i + 1 : i + 2] in '#"'):
            i = m.end()
            continue
        if text[i] in "([{":
            depth += 1
        elif text[i] in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)


def _rust_tables(text: str) -> list[str] | None:
    """``tables(vec![...])`` / ``vec![table(..), _tbl(..)]`` / ``vec![]`` -> names."""
    if re.fullmatch(r"\s*vec!\[\s*\]\s*,?\s*", text):
        return []
    names = []
    for m in _TABLE_ITEM.finditer(text):
        parts = [m["db"], m["schema"], _rust_unescape(m["name"])]
        names.append(".".join(p for p in parts if p))
    if "tables(vec![" in text:
        names += [_rust_unescape(m[3] or "") for m in _RUST_STRING.finditer(text)]
    return names or None


def openlineage_cases(repo: Path) -> list[dict[str, Any]]:
    """Cases from OpenLineage's Rust SQL parser tests."""
    cases: list[dict[str, Any]] = []
    for path in sorted((repo / "integration/sql/impl/tests").rglob("*.rs")):
        text = path.read_text()
        for block in text.split("#[test]")[1:]:
            name = re.search(r"fn\s+(\w+)", block)
            calls = list(_CALL.finditer(block))
            if not name or len(calls) != 1:
                continue
            call = calls[0]
            args = block[call.end() - 1 : _balanced(block, call.end() - 1)]
            strings = [
                _rust_unescape(m[2] if m[2] is not None else m[3] or "")
                for m in _RUST_STRING.finditer(args)
            ]
            if not strings:
                continue
            dialect: str | None = None
            if call[1].endswith("_dialect"):
                dialect, strings = strings[-1], strings[:-1]
            elif call[1] == "parse_sql":
                found = _RUST_DIALECT.search(args)
                dialect, strings = (found[1].lower() if found else None), strings[:1]
            elif call[1] == "test_sql":
                strings = strings[:1]
            dialect = OPENLINEAGE_DIALECTS.get(dialect or "postgres", dialect or "postgres")
            sql = ";\n".join(s.strip().rstrip(";") for s in strings)
            case: dict[str, Any] = {
                "sql": sql,
                "dialect": dialect,
                "schema": None,
                "reads": None,
                "writes": None,
                "columns": None,
            }
            lineage = block.find("TableLineage {")
            if lineage >= 0:
                body = block[lineage + len("TableLineage ") : _balanced(block, lineage + 13)]
                ins = re.search(r"in_tables:(.*?)out_tables:", body, re.DOTALL)
                outs = re.search(r"out_tables:(.*)\}\s*$", body, re.DOTALL)
                reads = _rust_tables(ins[1]) if ins else None
                writes = _rust_tables(outs[1]) if outs else None
                if reads is None or writes is None:
                    continue
                case["reads"], case["writes"] = reads, writes
            if "ColumnLineage {" in block:
                columns = _rust_columns(block)
                if columns is None:
                    continue
                case["columns"] = columns
            if case["reads"] is None and case["columns"] is None:
                continue
            case["id"] = f"openlineage:{path.name}::{name[1]}"
            cases.append(case)
    return cases


_META = re.compile(
    r'ColumnMeta\s*\{\s*origin:\s*(?:None|Some\(table\("((?:[^"\\]|\\.)*)"\)\))\s*,'
    r'\s*name:\s*"((?:[^"\\]|\\.)*)"'
)


def _rust_columns(block: str) -> list[list[list[str]]] | None:
    pairs = []
    for part in block.split("ColumnLineage {")[1:]:
        metas = list(_META.finditer(part))
        if not metas:
            return None
        target = metas[0]
        target_table = _rust_unescape(target[1]) if target[1] else "<result>"
        for source in metas[1:]:
            pairs.append(
                [
                    [_rust_unescape(source[1]) if source[1] else "?", _rust_unescape(source[2])],
                    [target_table, _rust_unescape(target[2])],
                ]
            )
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", choices=["sqllineage", "openlineage", "sql-metadata", "sqlfluff"])
    parser.add_argument("repo", type=Path, help="checkout of the source project")
    parser.add_argument("out", type=Path, help="corpus .jsonl to write")
    args = parser.parse_args(argv)
    if args.source == "openlineage":
        cases = openlineage_cases(args.repo)
    elif args.source == "sqlfluff":
        cases = sqlfluff_cases(args.repo)
    elif args.source == "sql-metadata":
        with tempfile.TemporaryDirectory() as work:
            cases = sql_metadata_cases(record_sql_metadata(args.repo, Path(work)))
    else:
        with tempfile.TemporaryDirectory() as work:
            cases = sqllineage_cases(record_sqllineage(args.repo, Path(work)))
    args.out.write_text("".join(json.dumps(c) + "\n" for c in cases))
    print(f"{len(cases)} cases -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
