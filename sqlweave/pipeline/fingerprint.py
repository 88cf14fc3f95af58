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
from .journal import NotebookFailed, NotebookSucceeded
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
    return fingerprint_of(notebook_inputs(path, parameters, warehouse, sources, files))


def notebook_inputs(
    path: Path,
    parameters: Mapping[str, Any],
    warehouse: Path | None,
    sources: frozenset[str] | set[str],
    files: frozenset[str] | set[str],
) -> dict[str, Any]:
    """What :func:`notebook_fingerprint` digests, part by part (see :func:`input_digests`)."""
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
    return inputs


def fingerprint_of(inputs: Mapping[str, Any]) -> str:
    """The fingerprint of a notebook's :func:`notebook_inputs`."""
    return _digest(inputs)


def _digest(value: Any) -> str:
    blob = json.dumps(value, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


#: parts of a notebook's inputs, as :func:`input_digests` names them (``file:data/x.csv``)
CONTENT, PARAMETER, FILE, SOURCE = "content", "parameter:", "file:", "source:"


def input_digests(inputs: Mapping[str, Any]) -> dict[str, str]:
    """One digest per part of :func:`notebook_inputs`: the notebook's content, each parameter
    it uses, each file and each source table; recorded with a success so that a later
    ``--only-stale`` run can say which changed.

    >>> sorted(input_digests({"cells": [], "metadata": {}, "parameters": {"day": "1"},
    ...                       "files": {"x.csv": "ab"}, "sources": {"raw": "cd"}}))
    ['content', 'file:x.csv', 'parameter:day', 'source:raw']
    """
    out = {CONTENT: _digest([inputs.get("cells"), inputs.get("metadata")])}
    out.update({PARAMETER + k: _digest(v) for k, v in inputs.get("parameters", {}).items()})
    out.update({FILE + k: v for k, v in inputs.get("files", {}).items()})
    out.update({SOURCE + k: v for k, v in inputs.get("sources", {}).items()})
    return out


def changed_inputs(before: Mapping[str, str], now: Mapping[str, str]) -> str:
    """Why a notebook's fingerprint changed, from its input digests then and now.

    >>> changed_inputs({"content": "1", "file:x.csv": "a", "parameter:day": "p"},
    ...                {"content": "1", "file:x.csv": "b", "parameter:day": "q"})
    'source file x.csv changed; parameter day changed'
    >>> changed_inputs({"content": "1"}, {"content": "2", "parameter:day": "q"})
    'notebook content changed; parameter day set'
    """
    reasons = []
    for part in sorted(set(before) | set(now), key=lambda p: (p != CONTENT, p)):
        if before.get(part) == now.get(part):
            continue
        kind, _, name = part.partition(":")
        what = {
            CONTENT: "notebook content",
            PARAMETER: f"parameter {name}",
            FILE: f"source file {name}",
            SOURCE: f"source table {name}",
        }[kind + (":" if name else "")]
        if part not in before:
            happened = "set" if kind + ":" == PARAMETER else "added"
        elif part not in now:
            happened = "no longer set" if kind + ":" == PARAMETER else "no longer read"
        else:
            happened = "changed"
        reasons.append(f"{what} {happened}")
    return "; ".join(reasons)


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
    inputs = plan_inputs(plan, parameters, warehouse)
    return {key: fingerprint_of(v) for key, v in inputs.items()}


def plan_inputs(
    plan: Plan, parameters: Mapping[str, Any], warehouse: Path | None
) -> dict[str, dict[str, Any]]:
    """:func:`notebook_inputs` of every notebook of ``plan``."""
    sources = set(plan.sources)
    return {
        key: notebook_inputs(
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
    inputs: Mapping[str, Mapping[str, str]] | None = None,
    failures: Mapping[str, NotebookFailed] | None = None,
) -> dict[str, str]:
    """Notebooks to run and why, in plan order; the rest are up to date.

    A notebook is stale when it never ran, its last run failed, its fingerprint changed
    (the reason names what: with ``inputs``, each notebook's :func:`input_digests` now, it
    compares them with those its last success recorded), one of its tables is missing from
    the warehouse, an upstream notebook is stale, or an upstream ran again since its last
    success. ``failures`` holds each notebook's latest failure.

    >>> from sqlweave.pipeline.plan import build_plan
    >>> from sqlweave.pipeline.dependencies import Dependencies as D
    >>> p = build_plan({"a": D(writes=frozenset({"t"})), "b": D(reads=frozenset({"t"}))})
    >>> stale(p, {"a": "1", "b": "2"}, {})
    {'a': 'never run', 'b': 'never run'}
    """
    missing_tables = missing_tables or {}
    inputs = inputs or {}
    failures = failures or {}
    out: dict[str, str] = {}
    for key in plan.order:
        prev = last.get(key)
        ups = plan.upstream(key)
        failed = failures.get(key)
        if failed is not None and (prev is None or failed.at > prev.at):
            cell = f" (cell {failed.cell})" if failed.cell else ""
            out[key] = f"last run failed{cell}"
        elif prev is None:
            out[key] = "never run"
        elif prev.fingerprint != fingerprints.get(key):
            changed = (
                changed_inputs(prev.inputs, inputs[key]) if prev.inputs and key in inputs else ""
            )
            out[key] = changed or "its notebook, parameters or input files changed"
        elif missing_tables.get(key):
            out[key] = f"table {', '.join(missing_tables[key])} is missing from the warehouse"
        elif stale_ups := [u for u in ups if u in out]:
            out[key] = f"upstream {', '.join(stale_ups)} runs again"
        elif moved := [u for u in ups if u in last and prev.upstream.get(u) != last[u].exec_id]:
            out[key] = f"upstream {', '.join(moved)} re-ran since"
    return out
