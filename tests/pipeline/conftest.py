"""Fixtures of the pipeline tests: the example pipeline copied to a temporary folder."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "notebooks" / "pipeline"


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """The example pipeline's notebooks with freshly generated (small) source files."""
    folder = tmp_path / "example"
    folder.mkdir()
    for nb in EXAMPLE.glob("*.ipynb"):
        shutil.copy(nb, folder)
    spec = importlib.util.spec_from_file_location("generate_data", EXAMPLE / "generate_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(folder / "data", orders=300, customers=40)
    return folder
