"""The docstring examples of every sqlweave module run, so they stay true.

A module either runs at least one example or is listed in ``PROSE_ONLY`` with the reason it
has none (it starts processes, needs a kernel, is a package marker...): a module that quietly
loses its examples fails here. Examples run in an empty folder that is also the temporary
directory, and it must be empty again afterwards.
"""

from __future__ import annotations

import builtins
import doctest
import importlib
import pkgutil
import tempfile
from pathlib import Path

import pytest

import sqlweave

MODULES = sorted(m.name for m in pkgutil.walk_packages(sqlweave.__path__, "sqlweave."))

_PACKAGE = "a package marker: its rooms' modules carry the examples"
_PROCESSES = "starts processes or sockets: shown as prose, tested in tests/cluster"
_IPYTHON = "IPython magics: tested through run_cell_magic and real kernels"
_KERNEL = "drives real kernels: tested by tests/pipeline and tests/robust"
_DEFINITIONS = "type and constant definitions; the modules using them carry examples"
_MIXIN = "a part of the Coordinator acting on its sockets: tested in tests/cluster"
_HANDLERS = "handlers reached only through lineage.extract, whose examples cover them"

#: modules without examples, and why
PROSE_ONLY: dict[str, str] = {
    "sqlweave._version": "holds the version string only",
    "sqlweave.cellids": _KERNEL,
    "sqlweave.cli": "the sqlweave command: tested by running it in tests/pipeline",
    "sqlweave.cluster": _PACKAGE,
    "sqlweave.engines.bound_statements": "tested through Session.sql with :name parameters",
    "sqlweave.cluster.cli": _PROCESSES,
    "sqlweave.cluster.client": _PROCESSES,
    "sqlweave.engines.engine": _DEFINITIONS,
    "sqlweave.cluster.fragments": _DEFINITIONS,
    "sqlweave.cluster.coordinator_main": _PROCESSES,
    "sqlweave.cluster.distributed_queries": _MIXIN,
    "sqlweave.cluster.local_statements": _MIXIN,
    "sqlweave.cluster.localcluster": _PROCESSES,
    "sqlweave.cluster.observe": _PROCESSES,
    "sqlweave.cluster.status_views": _MIXIN,
    "sqlweave.engines.paths": "tested through Session.register in tests/session",
    "sqlweave.engines.tuning": _DEFINITIONS,
    "sqlweave.engines": _PACKAGE,
    "sqlweave.cluster.worker": _PROCESSES,
    "sqlweave.completion": _PACKAGE,
    "sqlweave.completion.keywords": _DEFINITIONS,
    "sqlweave.events": _DEFINITIONS,
    "sqlweave.lab": _PACKAGE,
    "sqlweave.lineage.analysis": _HANDLERS,
    "sqlweave.lineage.columns": _HANDLERS,
    "sqlweave.lineage.ddl": _HANDLERS,
    "sqlweave.lineage.dml": _HANDLERS,
    "sqlweave.lineage.model": _DEFINITIONS,
    "sqlweave.lineage.statements": _HANDLERS,
    "sqlweave.lineage.widget": "an anywidget view: tested in a real JupyterLab (tests/ui)",
    "sqlweave.magics": _IPYTHON,
    "sqlweave.magics.cluster": _IPYTHON,
    "sqlweave.magics.explain": _IPYTHON,
    "sqlweave.magics.lab": _IPYTHON,
    "sqlweave.magics.lineage": _IPYTHON,
    "sqlweave.magics.sql": _IPYTHON,
    "sqlweave.pipeline.discover": "reads folders of notebooks: tested in tests/pipeline",
    "sqlweave.pipeline.errors": _DEFINITIONS,
    "sqlweave.pipeline.execute": _KERNEL,
    "sqlweave.pipeline.report": "writes HTML reports of real runs: tested in tests/pipeline",
}


def test_prose_only_names_existing_modules() -> None:
    assert sorted(set(PROSE_ONLY) - set(MODULES)) == []


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module(name)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    # doctest's display hook sets builtins._, after which IPython never sets _ for a later test
    monkeypatch.setattr(builtins, "_", None, raising=False)
    monkeypatch.chdir(tmp_path)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    if name in PROSE_ONLY:
        assert result.attempted == 0, f"{name} has examples now: drop it from PROSE_ONLY"
    else:
        assert result.attempted >= 1, f"{name} runs no example: add one, or list it as prose"
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "an example left files behind"
