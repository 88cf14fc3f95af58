"""The runner's decisions and staleness, without kernels."""

from __future__ import annotations

from sqlweave.pipeline.dependencies import Dependencies as D
from sqlweave.pipeline.dispatch import Dispatch
from sqlweave.pipeline.fingerprint import stale
from sqlweave.pipeline.journal import NotebookSucceeded
from sqlweave.pipeline.plan import build_plan


def test_ready_respects_upstreams_and_the_job_limit() -> None:
    d = Dispatch({"a": (), "b": (), "c": ("a", "b"), "d": ("x",)}, limit=2)
    assert d.take_ready() == ["a", "b"]
    assert d.take_ready() == []  # the limit
    d.succeed("a")
    assert d.take_ready() == ["d"]  # x is not in this run: done already
    d.succeed("b")
    assert d.take_ready() == ["c"]


def test_a_failure_blocks_only_its_descendants() -> None:
    d = Dispatch({"a": (), "b": ("a",), "c": ("b",), "s": ()})
    assert d.take_ready() == ["a", "s"]
    assert d.fail("a") == ["b", "c"]
    d.succeed("s")
    assert d.done and d.blocked == {"b": "a", "c": "a"} and d.succeeded == {"s"}


def _plan():
    return build_plan(
        {
            "in1": D(writes=frozenset({"r1"})),
            "in2": D(writes=frozenset({"r2"})),
            "clean": D(reads=frozenset({"r1", "r2"}), writes=frozenset({"c"})),
            "side": D(reads=frozenset({"r1"}), writes=frozenset({"s"})),
            "mart": D(reads=frozenset({"c"})),
        }
    )


def _ok(run: str, key: str, fp: str, **upstream: str) -> NotebookSucceeded:
    return NotebookSucceeded(run, notebook=key, fingerprint=fp, upstream=upstream)


def test_stale_runs_what_changed_and_everything_downstream() -> None:
    p = _plan()
    fps = {k: f"fp-{k}" for k in p.order}
    last = {
        "in1": _ok("r1", "in1", "fp-in1"),
        "in2": _ok("r1", "in2", "fp-in2"),
        "clean": _ok("r1", "clean", "fp-clean", in1="r1/in1", in2="r1/in2"),
        "side": _ok("r1", "side", "fp-side", in1="r1/in1"),
        "mart": _ok("r1", "mart", "fp-mart", clean="r1/clean"),
    }
    assert stale(p, fps, last) == {}
    changed = {**fps, "in2": "new"}
    assert list(stale(p, changed, last)) == ["in2", "clean", "mart"]
    # an upstream that ran again elsewhere (e.g. --select) makes its dependants stale
    moved = {**last, "in1": _ok("r2", "in1", "fp-in1")}
    assert set(stale(p, fps, moved)) == {"clean", "side", "mart"}
    assert stale(p, fps, last, {"side": ["s"]}) == {"side": "table s is missing from the warehouse"}


def test_fingerprints_follow_cells_parameters_and_files_not_outputs(tmp_path) -> None:
    import nbformat
    from notebook_files import write_notebook

    from sqlweave.pipeline.fingerprint import notebook_fingerprint

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("a\n1\n")
    path = write_notebook(tmp_path / "nb.ipynb", "%%sql\nSELECT * FROM src WHERE a > :n")

    def fp(params=None) -> str:
        return notebook_fingerprint(path, params or {}, tmp_path, {"src"}, {"data/x.csv"})

    base = fp()
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="hi")]
    nb.cells[0].execution_count = 3
    nbformat.write(nb, path)
    assert fp() == base  # outputs and counts are not inputs
    assert fp({"n": 1}) != base
    assert fp({"other": 1}) == base  # a parameter it does not use
    (tmp_path / "data" / "x.csv").write_text("a\n2\n")
    assert fp() != base
    changed = fp()
    (tmp_path / "src.parquet").write_bytes(b"saved source table")
    assert fp() != changed
