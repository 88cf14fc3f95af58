"""ARCHITECTURE.md matches the code: its rooms exist and no import runs against its table.

The allowed directions are read from ARCHITECTURE.md itself, so the drawing and this test
cannot drift apart. Every import counts, including ones inside functions.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "sqlweave"
DOC = ROOT / "ARCHITECTURE.md"

#: top-level modules that are rooms of their own; every other top-level module is ``core``
TOP_LEVEL_ROOMS = {
    "__init__": "package",
    "cli": "cli",
    "session": "session",
    "warehouse": "warehouse",
    "runner": "runner",
    "cellids": "runner",
    "kernels": "runner",
}
CORE = "core"

#: the registry makes a ClusterEngine for a cluster address: the one arrow from engines/ up
#: into cluster/, imported lazily (ARCHITECTURE.md says so)
EXCEPTIONS = frozenset({("sqlweave.engines.registry", "sqlweave.cluster.client")})

#: rooms that run in workers, the coordinator and plain Python: no IPython, no magics
NO_IPYTHON = ("cluster", "engines", "lineage", "pipeline", "completion")
#: import roots that belong to the repository, never to the package
REPOSITORY_ONLY = ("tests", "bench", "conftest", "tpchdata")


@dataclass(frozen=True)
class Import:
    """One imported module name, as written in ``path`` at ``line``."""

    importer: str
    imported: str
    path: Path
    line: int

    def where(self) -> str:
        path = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{path}:{self.line}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def room_of(module: str) -> str:
    """The room of a ``sqlweave...`` module name (see the rooms table)."""
    parts = module.split(".")
    if len(parts) == 1:
        return TOP_LEVEL_ROOMS["__init__"]
    if (PACKAGE / parts[1]).is_dir():
        return parts[1]
    return TOP_LEVEL_ROOMS.get(parts[1], CORE)


def imports(path: Path, module: str | None = None) -> Iterator[Import]:
    """Every module ``path`` imports; ``from a import b`` yields ``a.b`` if that is a module, else ``a``.

    ``module`` is the importer's dotted name (default: from ``path`` under the repository).
    """
    module = module or module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, path, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                yield Import(module, sub if existing(sub) else source, path, node.lineno)


def package_imports() -> list[Import]:
    return [i for path in sorted(PACKAGE.rglob("*.py")) for i in imports(path)]


def doc_table(heading: str) -> dict[str, str]:
    """``{first cell: second cell}`` of the markdown table whose header starts with ``heading``."""
    text = DOC.read_text()
    start = text.index(heading)
    rows: dict[str, str] = {}
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1]
    return rows


def allowed() -> dict[str, set[str]]:
    table = doc_table("| room          | may import")
    return {room: {r.strip() for r in cells.split(",")} for room, cells in table.items()}


def is_sqlweave(name: str) -> bool:
    return name == "sqlweave" or name.startswith("sqlweave.")


def existing(name: str) -> bool:
    """Whether ``name`` is a module or package in the repository."""
    rel = Path(*name.split("."))
    return (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file()


def test_doc_names_every_room_and_each_exists() -> None:
    rooms = doc_table("| room          | what lives there")
    folders = {r.rstrip("/") for r in rooms if r.endswith("/")}
    on_disk = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert on_disk - folders == set(), "folders of sqlweave/ missing from ARCHITECTURE.md"
    assert folders - on_disk == set(), "ARCHITECTURE.md names folders that do not exist"
    assert set(TOP_LEVEL_ROOMS.values()) | {CORE} <= set(rooms)
    assert set(allowed()) == {r.rstrip("/") for r in rooms}


def test_allowed_directions_form_layers() -> None:
    """The table itself has no cycle, so the rooms can be drawn as layers."""
    table = allowed()
    done: set[str] = set()

    def visit(room: str, path: tuple[str, ...]) -> None:
        assert room not in path, f"cycle in ARCHITECTURE.md: {' -> '.join((*path, room))}"
        if room in done:
            return
        for lower in table[room] - {room}:
            visit(lower, (*path, room))
        done.add(room)

    for room in table:
        visit(room, ())


def violations(found: list[Import]) -> list[str]:
    """The imports in ``found`` that run against the table of ARCHITECTURE.md."""
    table = allowed()
    wrong = []
    for imp in found:
        if not is_sqlweave(imp.imported) or not existing(imp.imported):
            continue
        if (imp.importer, imp.imported) in EXCEPTIONS:
            continue
        source, target = room_of(imp.importer), room_of(imp.imported)
        if source != target and target not in table[source]:
            wrong.append(f"{imp.where()}: {source} imports {target} ({imp.imported})")
    return wrong


def test_no_import_runs_against_the_table() -> None:
    assert violations(package_imports()) == []


def test_the_checker_catches_a_wrong_import(tmp_path: Path) -> None:
    """Not blind: a lineage module importing the cluster (relative, inside a function) is caught."""
    fake = tmp_path / "fake.py"
    fake.write_text("from . import graph\n\ndef f():\n    from ..cluster import coordinator\n")
    found = list(imports(fake, "sqlweave.lineage.fake"))
    assert [i.imported for i in found] == ["sqlweave.lineage.graph", "sqlweave.cluster.coordinator"]
    assert violations(found) == [
        f"{fake}:4: lineage imports cluster (sqlweave.cluster.coordinator)"
    ]


@pytest.mark.parametrize("room", NO_IPYTHON)
def test_room_never_imports_ipython_or_magics(room: str) -> None:
    wrong = [
        f"{imp.where()}: {imp.imported}"
        for imp in package_imports()
        if room_of(imp.importer) == room
        and (imp.imported.split(".")[0] == "IPython" or room_of(imp.imported) == "magics")
        and (imp.imported.split(".")[0] == "IPython" or is_sqlweave(imp.imported))
    ]
    assert wrong == []


def test_package_never_imports_tests_or_bench() -> None:
    wrong = [
        f"{imp.where()}: {imp.imported}"
        for imp in package_imports()
        if imp.imported.split(".")[0] in REPOSITORY_ONLY
    ]
    assert wrong == []


def test_package_builds_no_path_into_the_repository() -> None:
    """A wheel has no ``bench/`` or ``tests/``: no module may name them in a path."""
    pattern = re.compile(r"""["'](bench|tests)["']|/\s*["'](bench|tests)/""")
    wrong = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert wrong == []


def private_imports(path: Path, module: str | None = None) -> Iterator[str]:
    """``from <another sqlweave module> import _name`` in ``path``."""
    module = module or module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.ImportFrom):
            continue
        source = node.module or ""
        if node.level:
            base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        if source != "sqlweave" and not source.startswith("sqlweave."):
            continue
        for alias in node.names:
            if alias.name.startswith("_") and not alias.name.startswith("__"):
                yield f"{path}:{node.lineno}: {module} imports {source}.{alias.name}"


def test_no_module_imports_private_names_of_another() -> None:
    """Modules share public names, never ``_private`` ones: what worker, coordinator,
    ``LocalCluster`` (or any two rooms) share is a public name of the module that owns it."""
    assert [w for path in sorted(PACKAGE.rglob("*.py")) for w in private_imports(path)] == []


@pytest.mark.parametrize(
    ("module", "line", "imported"),
    [
        (
            "sqlweave.cluster.fake",
            "from .worker import _die_with_parent",
            "cluster.worker._die_with_parent",
        ),
        ("sqlweave.magics.fake", "from ..statements import _reads", "statements._reads"),
        ("sqlweave.lineage.fake", "from sqlweave.engines import _x", "engines._x"),
    ],
)
def test_the_private_import_check_is_not_blind(
    tmp_path: Path, module: str, line: str, imported: str
) -> None:
    fake = tmp_path / "fake.py"
    fake.write_text(f"def f():\n    {line}\n    from .public import __all__, name\n")
    assert list(private_imports(fake, module)) == [
        f"{fake}:2: {module} imports sqlweave.{imported}"
    ]


#: processes of the cluster that share modules but never import each other
CLUSTER_PROCESSES = {
    "sqlweave.cluster.worker": {
        "sqlweave.cluster.coordinator",
        "sqlweave.cluster.coordinator_state",
    },
    "sqlweave.cluster.coordinator": {"sqlweave.cluster.worker"},
    "sqlweave.cluster.coordinator_state": {"sqlweave.cluster.worker"},
    "sqlweave.cluster.localcluster": {"sqlweave.cluster.worker", "sqlweave.cluster.coordinator"},
}


def test_worker_and_coordinator_never_import_each_other() -> None:
    wrong = [
        f"{imp.where()}: {imp.importer} imports {imp.imported}"
        for imp in package_imports()
        if imp.imported in CLUSTER_PROCESSES.get(imp.importer, ())
    ]
    assert wrong == []
