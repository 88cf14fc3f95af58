"""Fixtures shared by every test folder. Keep this small: folder-specific fixtures live
in that folder's own conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import tpchdata


@pytest.fixture(scope="session")
def tpch_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TPC-H at scale factor 0.01 as parquet, four files per large table (about 1 s to make).

    Layout: ``<tpch_dir>/<table>/<table>.<n>.parquet``; see :func:`tpchdata.table_paths`.
    """
    return tpchdata.generate(tmp_path_factory.mktemp("tpch"), scale_factor=0.01, parts=4)
