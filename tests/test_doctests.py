"""The docstring examples of every sqlweave module run, so they stay true."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import sqlweave

MODULES = sorted(m.name for m in pkgutil.walk_packages(sqlweave.__path__, "sqlweave."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
