"""Lazy package attributes: a room's public names imported on first use.

A package ``__init__`` lists which submodule defines each public name and hands the table to
:func:`lazy_attributes`; ``import sqlweave.cluster`` then stays cheap (no ZeroMQ, no
DataFusion) until a name is used (PEP 562 module ``__getattr__``).

    >>> import types
    >>> pkg = types.ModuleType("pkg")
    >>> pkg.__getattr__ = lazy_attributes("pkg", {"dumps": "json"})
    >>> pkg.__getattr__("dumps")([1])
    '[1]'
    >>> pkg.__getattr__("nope")
    Traceback (most recent call last):
    ...
    AttributeError: module 'pkg' has no attribute 'nope'
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` importing each name of ``where`` on first use.

    Args:
        package: the package's ``__name__`` (relative module names resolve against it).
        where: public name -> module defining it (``".client"``, or absolute).

    The value is cached in the package's namespace, so later lookups skip the hook.
    """

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name], package), name)
        module = sys.modules.get(package)
        if module is not None:
            setattr(module, name, value)
        return value

    return __getattr__
