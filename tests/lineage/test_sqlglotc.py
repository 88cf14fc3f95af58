"""``sqlglotc`` (sqlglot compiled with mypyc) gives the same lineage and statement splits as
the pure-Python sqlglot it is built from (README: "same version, same results").

This process runs the compiled modules; a child runs the very same sources as Python (an
import hook prefers each ``sqlglot`` module's ``.py`` over its compiled twin), and both work
through every golden lineage case.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlglot.parser
from helpers import load_cases, render

from sqlweave.lineage.extract import extract
from sqlweave.statements import split

HERE = Path(__file__).resolve().parent

#: the child: pure-Python sqlglot, then the same work as :func:`answers`
PURE = textwrap.dedent(
    """
    import importlib.machinery, importlib.util, json, sys
    from pathlib import Path

    class PreferSource:
        '''For sqlglot's modules, load the .py file where a compiled twin sits beside it.'''

        @staticmethod
        def find_spec(name, path=None, target=None):
            if name != "sqlglot" and not name.startswith("sqlglot."):
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None or not (spec.origin or "").endswith(".so"):
                return spec
            source = Path(spec.origin).with_name(name.rpartition(".")[2] + ".py")
            return importlib.util.spec_from_file_location(name, source) if source.exists() else spec

    sys.meta_path.insert(0, PreferSource)
    sys.path.insert(0, sys.argv[1])
    import test_sqlglotc

    print(json.dumps(test_sqlglotc.answers()))
    """
)


def compiled_modules() -> list[str]:
    """The sqlglot modules of this process that are compiled extension modules."""
    return sorted(
        name
        for name, module in list(sys.modules.items())
        if name.split(".")[0] == "sqlglot"
        and (getattr(module, "__file__", "") or "").endswith(".so")
    )


def answers() -> dict[str, object]:
    """Every golden case's lineage (rendered) and statement split, and which sqlglot ran."""
    cases = load_cases()
    return {
        "compiled": compiled_modules(),
        "lineage": {c.id: list(render(extract(c.sql, c.dialect, c.schema))) for c in cases},
        "split": {
            c.id: [[s.start, s.end, s.kind.value, s.target] for s in split(c.sql)] for c in cases
        },
    }


@pytest.mark.process
def test_compiled_and_pure_sqlglot_give_the_same_lineage_and_splits() -> None:
    assert sqlglot.parser.__file__.endswith(".so"), "sqlglotc is not what this process runs"
    proc = subprocess.run(
        [sys.executable, "-c", PURE, str(HERE)], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    pure = json.loads(proc.stdout)
    mine = answers()
    assert mine["compiled"] and not pure["compiled"]  # two different builds really ran
    assert len(mine["lineage"]) >= 150
    assert pure["lineage"] == mine["lineage"]
    assert pure["split"] == mine["split"]
