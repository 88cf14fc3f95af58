"""Fixtures shared by every test folder. Keep this small: folder-specific fixtures live
in that folder's own conftest.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tpchdata

from sqlweave.engines.paths_policy import ALLOW_ENV


@pytest.fixture(scope="session", autouse=True)
def sql_may_use_test_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Coordinators started by tests let SQL use files under pytest's temporary folder
    (their default is only their working directory: see sqlweave.engines.paths_policy)."""
    before = os.environ.get(ALLOW_ENV)
    os.environ[ALLOW_ENV] = os.pathsep.join(
        p for p in (before, str(tmp_path_factory.getbasetemp())) if p
    )
    yield
    if before is None:
        os.environ.pop(ALLOW_ENV, None)
    else:
        os.environ[ALLOW_ENV] = before


@pytest.fixture(autouse=True)
def _work_in_a_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs in its own empty folder, so what the code writes to the working
    directory (the ``.sqlweave/`` lineage store of a loaded extension) never lands in the
    repository. Tests find repository files through ``__file__``."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def ip() -> Iterator[Any]:
    """IPython's shell with ``%load_ext sqlweave`` (the magics on a fresh Session; lineage
    stored in the test's own folder). Afterwards the extension is unloaded (a cluster it
    started stops), and its ``%config SqlWeave`` and the user namespace are reset."""
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "sqlweave")
    yield shell
    shell.run_line_magic("unload_ext", "sqlweave")
    shell.config.pop("SqlWeave", None)
    shell.user_ns.clear()
    shell.init_user_ns()


@pytest.fixture(scope="session")
def tpch_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TPC-H at scale factor 0.01 as parquet, four files per large table (about 1 s to make).

    Layout: ``<tpch_dir>/<table>/<table>.<n>.parquet``; see :func:`tpchdata.table_paths`.
    """
    return tpchdata.generate(tmp_path_factory.mktemp("tpch"), scale_factor=0.01, parts=4)
