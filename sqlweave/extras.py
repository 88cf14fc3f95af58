"""Optional dependencies: imported on demand, and a missing one names the extra that brings it.

pandas and polars are not needed to run SQL; sqlweave recognises their DataFrames by the
module name of the type (see :mod:`sqlweave.frames`) and imports them only to convert a result.

>>> require("json", "reading JSON").__name__
'json'
>>> require("no_such_module_here", "to_pandas()")
Traceback (most recent call last):
sqlweave.errors.MissingDependencyError: to_pandas() needs no_such_module_here, which is not installed: pip install 'sqlweave[no_such_module_here]'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError

#: the extra of sqlweave that installs each optional module
EXTRA_OF = {"pandas": "pandas", "polars": "polars"}


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature``, or raise :class:`MissingDependencyError` naming its extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = EXTRA_OF.get(module, module)
        raise MissingDependencyError(
            f"{feature} needs {module}, which is not installed: pip install 'sqlweave[{extra}]'"
        ) from exc
