"""pandas and polars are optional extras: without them sqlweave runs SQL, recognises their
DataFrames by module name, and ``.to_pandas()``/``.to_polars()`` say which extra to install.

The checks run in a fresh interpreter whose import system refuses pandas and polars, as in
an environment where they were never installed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

BLOCKER = """
import sys
from importlib.abc import MetaPathFinder

BLOCKED = ("pandas", "polars")


class Uninstalled(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Uninstalled())
"""


def run_without_frames_libraries(code: str) -> dict:
    """Run ``code`` (which prints one JSON line last) with pandas and polars uninstallable,
    in the test's own working folder."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", BLOCKER + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_blocker_really_blocks() -> None:
    got = run_without_frames_libraries(
        """
        import json
        failures = []
        for name in BLOCKED:
            try:
                __import__(name)
            except ImportError:
                failures.append(name)
        print(json.dumps(failures))
        """
    )
    assert got == ["pandas", "polars"]


def test_sqlweave_works_without_pandas_and_polars() -> None:
    got = run_without_frames_libraries(
        """
        import importlib, json, pkgutil
        import pyarrow as pa
        import sqlweave
        from sqlweave import frames

        # every module imports
        for info in pkgutil.walk_packages(sqlweave.__path__, "sqlweave."):
            importlib.import_module(info.name)

        session = sqlweave.Session()
        session.register("t", pa.table({"x": [1, 2, 3]}))
        result = session.sql("SELECT sum(x) AS s FROM t")

        # a DataFrame is recognised by its type's module, without importing the library
        DataFrame = type("DataFrame", (), {"__module__": "pandas.core.frame"})
        LazyFrame = type("LazyFrame", (), {"__module__": "polars.lazyframe.frame"})
        Series = type("Series", (), {"__module__": "pandas.core.series"})

        errors = {}
        for method in ("to_pandas", "to_polars"):
            try:
                getattr(result, method)()
            except sqlweave.MissingDependencyError as exc:
                errors[method] = [str(exc), isinstance(exc, ImportError)]
        print(json.dumps({
            "rows": result.to_arrow().to_pylist(),
            "frames": [frames.is_frame(DataFrame()), frames.is_frame(LazyFrame()),
                       frames.is_frame(Series())],
            "errors": errors,
        }))
        """
    )
    assert got["rows"] == [{"s": 6}]
    assert got["frames"] == [True, True, False]
    assert got["errors"] == {
        "to_pandas": [
            "Result.to_pandas() needs pandas, which is not installed: "
            "pip install 'sqlweave[pandas]'",
            True,
        ],
        "to_polars": [
            "Result.to_polars() needs polars, which is not installed: "
            "pip install 'sqlweave[polars]'",
            True,
        ],
    }


def test_magics_run_sql_without_pandas_and_polars() -> None:
    got = run_without_frames_libraries(
        """
        import json
        from IPython.core.interactiveshell import InteractiveShell

        shell = InteractiveShell.instance()
        shell.run_cell("%load_ext sqlweave", store_history=False)
        out = shell.run_cell("%%sql r <<\\nSELECT 40 + 2 AS answer", store_history=False)
        out.raise_error()
        print(json.dumps(shell.user_ns["r"].to_arrow().to_pylist()))
        """
    )
    assert got == [{"answer": 42}]


def test_extras_are_declared_and_dev_stays_complete() -> None:
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(requirements: list[str]) -> set[str]:
        return {re.split(r"[<>=\[ ;]", r, maxsplit=1)[0] for r in requirements}

    extras = project["optional-dependencies"]
    assert names(project["dependencies"]) & {"pandas", "polars"} == set()
    assert names(extras["pandas"]) == {"pandas"}
    assert names(extras["polars"]) == {"polars"}
    assert {"pandas", "polars"} <= names(extras["dev"])
