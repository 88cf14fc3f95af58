"""Fingerprints of a notebook's inputs, and which notebooks are stale (make/dbt style).

A notebook's fingerprint covers its own inputs: its cells' sources and its
``metadata.sqlweave`` (not outputs or execution counts), the run's parameters it uses
(the names its ``parameters`` cell assigns; without such a cell, the names its code
mentions), and the
contents of the files it reads (declared, registered, queried by path, or saved in the
warehouse for its source tables). Upstream notebooks are compared by the execution ids
recorded at its last success, so an upstream that ran again makes it stale too.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..runner import INJECTED_TAG, PARAMETERS_TAG
from .dependencies import METADATA_KEY, read_notebook
from .journal import NotebookSucceeded
from .plan import Plan

_CHUNK = 1 << 20
MISSING = "missing"


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes; of every file's relative path and bytes for a folder."""
    h = hashlib.sha256()
    if path.is_dir():
        for p in sorted(q for q in path.rglob("*") if q.is_file()):
            h.update(p.relative_to(path).as_posix().encode() + b"\0" + file_digest(p).encode())
        return h.hexdigest()
    if not path.is_file():
        return MISSING
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def notebook_fingerprint(
    path: Path,
    parameters: Mapping[str, Any],
    warehouse: Path | None,
    sources: frozenset[str] | set[str],
    files: frozenset[str] | set[str],
) -> str:
    """Fingerprint of the notebook at ``path`` given the run's parameters.

    Args:
        sources: the notebook's reads that no notebook writes (looked up in ``warehouse``).
        files: file paths it reads, relative to the notebook.
    """
    nb = read_notebook(path)
    cells = [[c.get("cell_type"), c.get("source", "")] for c in nb.cells]
    inputs: dict[str, Any] = {
        "cells": cells,
        "metadata": nb.get("metadata", {}).get(METADATA_KEY, {}),
        "parameters": {
            k: repr(v) for k, v in sorted(used_parameters(nb.cells, parameters).items())
        },
        "files": {f: file_digest(_resolve(path.parent, f)) for f in sorted(files)},
    }
    if warehouse is not None:
        inputs["sources"] = {s: file_digest(warehouse / f"{s}.parquet") for s in sorted(sources)}
    blob = json.dumps(inputs, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def used_parameters(cells: list[Any], parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The run parameters a notebook uses: those its ``parameters`` cell assigns.

    Without a ``parameters`` cell (or one Python cannot parse), those whose name its
    code cells mention. A notebook that ignores a parameter is not stale when it changes.

    >>> from nbformat.v4 import new_code_cell as cell
    >>> p = cell("day = '2024-01-01'; limit: int = 5", metadata={"tags": ["parameters"]})
    >>> used_parameters([p, cell("%sql SELECT :day")], {"day": "x", "region": "eu"})
    {'day': 'x'}
    >>> used_parameters([cell("%sql SELECT * FROM t WHERE r = :region")], {"day": 1, "region": 2})
    {'region': 2}
    """
    code = [c for c in cells if c.get("cell_type") == "code"]
    tagged = [c for c in code if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])]
    names: set[str] | None = None
    if tagged:
        try:
            names = {
                t.id
                for c in tagged
                for node in ast.walk(ast.parse(c.get("source", "")))
                if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign))
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
                for t in ast.walk(target)
                if isinstance(t, ast.Name)
            }
        except SyntaxError:
            names = None
    if names is None:
        text = "\n".join(
            c.get("source", "")
            for c in code
            if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])
        )
        names = {k for k in parameters if re.search(rf"(?<![\w.]){re.escape(k)}\b", text)}
    return {k: v for k, v in parameters.items() if k in names}


def _resolve(folder: Path, name: str) -> Path:
    path = Path(os.path.expanduser(name.removeprefix("file://")))
    return path if path.is_absolute() else folder / path


def plan_fingerprints(
    plan: Plan, parameters: Mapping[str, Any], warehouse: Path | None
) -> dict[str, str]:
    """Fingerprint of every notebook of ``plan``."""
    sources = set(plan.sources)
    return {
        key: notebook_fingerprint(
            plan.path(key),
            parameters,
            warehouse,
            plan.notebooks[key].reads & sources,
            plan.notebooks[key].files,
        )
        for key in plan.order
    }


def stale(
    plan: Plan,
    fingerprints: Mapping[str, str],
    last: Mapping[str, NotebookSucceeded],
    missing_tables: Mapping[str, list[str]] | None = None,
) -> dict[str, str]:
    """Notebooks to run and why, in plan order; the rest are up to date.

    A notebook is stale when it never succeeded, its fingerprint changed, one of its
    tables is missing from the warehouse, an upstream notebook is stale, or an upstream
    ran again since its last success.

    >>> from sqlweave.pipeline.plan import build_plan
    >>> from sqlweave.pipeline.dependencies import Dependencies as D
    >>> p = build_plan({"a": D(writes=frozenset({"t"})), "b": D(reads=frozenset({"t"}))})
    >>> stale(p, {"a": "1", "b": "2"}, {})
    {'a': 'never succeeded', 'b': 'never succeeded'}
    """
    missing_tables = missing_tables or {}
    out: dict[str, str] = {}
    for key in plan.order:
        prev = last.get(key)
        ups = plan.upstream(key)
        if prev is None:
            out[key] = "never succeeded"
        elif prev.fingerprint != fingerprints.get(key):
            out[key] = "its notebook, parameters or input files changed"
        elif missing_tables.get(key):
            out[key] = f"table {', '.join(missing_tables[key])} is missing from the warehouse"
        elif stale_ups := [u for u in ups if u in out]:
            out[key] = f"upstream {', '.join(stale_ups)} runs again"
        elif moved := [u for u in ups if u in last and prev.upstream.get(u) != last[u].exec_id]:
            out[key] = f"upstream {', '.join(moved)} ran since"
    return out
