"""run_task, hash partitioning and catalog shares."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datafusion import SessionContext

from sqlweave.cluster.catalog import Catalog, schema_to_bytes
from sqlweave.cluster.fragments import (
    EmptyShare,
    ExchangeShare,
    FilesShare,
    Fragment,
    FragmentFormat,
    MemoryShare,
    Output,
    OutputMode,
    TaskSpec,
)
from sqlweave.cluster.task import hash_rows, run_task, split_output

KEYS = pa.table(
    {
        "i": pa.array([1, 2, None, 4, 1], pa.int64()),
        "s": pa.array(["a", "bb", "", None, "a"]).cast(pa.string_view()),
        "d": pa.array(
            [Decimal(x) for x in ("1.5", "2.5", "3.5", "4.5", "1.5")], pa.decimal128(15, 2)
        ),
        "t": pa.array([0, 1, 2, 3, 0], pa.int32()).cast(pa.date32()),
    }
)


def spec(sql: str, inputs, output: Output | None = None) -> TaskSpec:
    fragment = Fragment(FragmentFormat.SQL, sql)
    return TaskSpec("q", 0, 0, fragment, tuple(inputs), output or Output())


def test_hash_is_the_same_in_another_process():
    here = hash_rows(KEYS, ["i", "s", "d", "t"]).tolist()
    code = (
        "import pyarrow as pa, sys; sys.path.insert(0, '.');"
        "from tests.cluster.test_task import KEYS;"
        "from sqlweave.cluster.task import hash_rows;"
        "print(hash_rows(KEYS, ['i', 's', 'd', 't']).tolist())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root, check=True
    )
    assert out.stdout.strip() == str(here)


def test_equal_values_hash_equal_whatever_their_physical_type():
    h = hash_rows(KEYS, ["i", "s", "d", "t"])
    assert h[0] == h[4] and len(set(h[:4].tolist())) == 4
    as_int32 = pa.table({"i": pa.array([1, 2, None], pa.int32())})
    assert (hash_rows(as_int32, ["i"]) == hash_rows(KEYS.slice(0, 3), ["i"])).all()
    plain = pa.table({"s": pa.array(["a", "bb", "", None])})
    large = pa.table({"s": pa.array(["a", "bb", "", None], pa.large_string())})
    view = KEYS.select(["s"]).slice(0, 4)
    assert (hash_rows(plain, ["s"]) == hash_rows(view, ["s"])).all()
    assert (hash_rows(large, ["s"]) == hash_rows(view, ["s"])).all()
    # a value's hash does not depend on its neighbours (offsets into the buffer)
    assert hash_rows(view.slice(1), ["s"])[0] == hash_rows(view, ["s"])[1]


def test_hash_split_keeps_every_row_once_and_each_key_in_one_piece():
    table = pa.table({"k": np.arange(1000) % 37, "v": np.arange(1000)})
    pieces = split_output(table, OutputMode.HASH, ["k"], 3)
    assert sorted(pieces) == [0, 1, 2]
    parts = [pa.Table.from_batches(pieces[p]) for p in range(3)]
    assert sum(p.num_rows for p in parts) == 1000
    seen = [set(p.column("k").to_pylist()) for p in parts]
    assert not (seen[0] & seen[1]) and not (seen[1] & seen[2]) and not (seen[0] & seen[2])
    assert all(seen)  # 37 keys spread over all 3 pieces


def test_split_keeps_string_view_columns_and_empty_pieces_keep_the_schema():
    pieces = split_output(KEYS.slice(0, 1), OutputMode.HASH, ["s"], 4)
    assert all(len(b) >= 1 for b in pieces.values())
    assert all(b[0].schema == KEYS.schema for b in pieces.values())
    broadcast = split_output(KEYS, OutputMode.BROADCAST, [], 3)
    assert sorted(broadcast) == [0, 1, 2] and broadcast[0] is broadcast[2]


def test_hash_split_in_several_chunks_matches_one_chunk(monkeypatch):
    from sqlweave.cluster import task

    table = pa.table({"k": np.arange(1000) % 37, "s": [str(i) for i in range(1000)]})
    table = table.cast(pa.schema([("k", pa.int64()), ("s", pa.string_view())]))
    whole = split_output(table, OutputMode.HASH, ["k"], 3)
    monkeypatch.setattr(task, "_SPLIT_ROWS", 100)
    chunked = split_output(table, OutputMode.HASH, ["k"], 3)
    for p in range(3):
        a, b = (pa.Table.from_batches(x[p]) for x in (whole, chunked))
        assert a.schema == table.schema and a.combine_chunks().equals(b.combine_chunks())


def test_gathered_string_views_do_not_drag_shared_buffers_along():
    big = pa.array([f"{'x' * 30}{i}" for i in range(100_000)]).cast(pa.string_view())
    batch = pa.record_batch({"s": big})
    table = pa.Table.from_batches([batch.slice(i * 1000, 10) for i in range(50)])
    for mode in (OutputMode.GATHER, OutputMode.BROADCAST):
        out = split_output(table, mode, [], 2)[0]
        assert pa.Table.from_batches(out).equals(table)
        assert sum(b.serialize().size for b in out) < 100_000


def test_run_task_reads_exactly_the_share_files(tmp_path):
    paths = []
    for i in range(3):
        path = tmp_path / f"part{i}.parquet"
        pq.write_table(pa.table({"x": [i * 10 + j for j in range(10)]}), path)
        paths.append(str(path))
    share = FilesShare("t", (paths[0], paths[2]))
    out = run_task(SessionContext, spec("select sum(x) as s, count(*) as n from t", [share]), None)
    assert pa.Table.from_batches(out[0]).to_pylist() == [{"s": 45 + 245, "n": 20}]


def test_run_task_reads_row_groups(tmp_path):
    path = tmp_path / "rg.parquet"
    pq.write_table(pa.table({"x": list(range(100))}), path, row_group_size=25)
    share = FilesShare("t", (str(path),), row_groups=((1, 3),))
    out = run_task(
        SessionContext, spec("select min(x) a, max(x) b, count(*) n from t", [share]), None
    )
    assert pa.Table.from_batches(out[0]).to_pylist() == [{"a": 25, "b": 99, "n": 50}]


def test_run_task_resolves_memory_exchange_and_empty_inputs():
    mem = pa.table({"k": pa.array([1, 2, 3], pa.int32())})
    exch = [pa.record_batch({"c0": [2, 3, 4]})]
    resolved = {MemoryShare("m", "h1"): mem, ExchangeShare("e", 3, 0, 1): exch}
    empty = EmptyShare("z", schema_to_bytes(pa.schema([("q", pa.int64())])))
    sql = "select m.k from m join e on m.k = e.c0 where m.k not in (select q from z) order by 1"
    inputs = [*resolved, empty]
    out = run_task(
        SessionContext, spec(sql, inputs, Output(OutputMode.HASH, ("k",), 2)), resolved.__getitem__
    )
    assert sorted(out) == [0, 1]
    rows = sorted(r["k"] for p in out.values() for b in p for r in b.to_pylist())
    assert rows == [2, 3]


def test_run_task_errors_surface():
    # DataFusion's own planning error: the worker sends its text back as a TaskFailed
    with pytest.raises(ValueError, match=r"table 'datafusion\.public\.nope' not found"):
        run_task(SessionContext, spec("select * from nope", []), None)


def test_catalog_balances_files_and_splits_row_groups_when_files_are_few(tmp_path):
    for i, n in enumerate([40, 30, 20, 10]):
        pq.write_table(
            pa.table({"x": list(range(n))}), tmp_path / f"f{i}.parquet", row_group_size=5
        )
    cat = Catalog()
    entry = cat.add_files("t", tmp_path)
    assert entry.rows == 100 and entry.schema.names == ["x"]
    two = cat.shares("t", 2)
    assert [sorted(os.path.basename(p) for p in s[0].paths) for s in two] == [
        ["f0.parquet", "f3.parquet"],
        ["f1.parquet", "f2.parquet"],
    ]
    eight = cat.shares("t", 8)
    assert all(isinstance(s[0], FilesShare) and s[0].row_groups for s in eight)
    groups = sorted((p, g) for s in eight for p, gs in zip(s[0].paths, s[0].row_groups) for g in gs)
    assert len(groups) == 20 and len(set(groups)) == 20


def test_catalog_memory_partitions_and_empty_shares():
    cat = Catalog()
    table = pa.table({"x": pa.array([1, 2, 3], pa.int16())})
    entry = cat.add_arrow("t", table, partitions=2)
    assert [cat.partitions[h].schema for h in entry.source.hashes] == [table.schema] * 2
    shares = cat.shares("t", 3)
    assert isinstance(shares[2][0], EmptyShare)
    assert sum(cat.partitions[s[0].content_hash].num_rows for s in shares[:2]) == 3
    cat.remove("t")
    assert "t" not in cat and not cat.partitions


def test_csv_tables_are_read_by_datafusion_like_the_catalog(tmp_path, assert_result):
    from sqlweave.cluster.planning import PlannerOptions, plan_query
    from sqlweave.cluster.simulate import simulate

    for i in range(3):
        rows = "\n".join(f"{i * 10 + j},name{j % 3}" for j in range(10))
        (tmp_path / f"p{i}.csv").write_text("id,name\n" + rows + "\n")
    cat = Catalog()
    cat.add_files("people", tmp_path, format="csv")
    sql = "select name, count(*) as n, sum(id) as s from people group by name"
    got = simulate(plan_query(sql, cat, PlannerOptions(workers=2)), cat, workers=2).table
    ref = SessionContext()
    ref.register_csv("people", str(tmp_path))
    assert_result(got, ref.sql(sql).to_arrow_table())


def test_float_keys_that_compare_equal_hash_equal():
    t = pa.table({"f": pa.array([0.0, -0.0, float("nan"), -float("nan"), 1.0], pa.float64())})
    h = hash_rows(t, ["f"])
    assert h[0] == h[1] and h[2] == h[3] and h[0] != h[4]
    as32 = pa.table({"f": pa.array([0.0, 1.0], pa.float32())})
    assert hash_rows(as32, ["f"]).tolist() == [h[0], h[4]]


def test_tasks_sharing_one_context_see_only_their_own_share_and_leave_it_clean(tmp_path):
    from sqlweave.cluster.task import FileLinks

    paths = []
    for i in range(3):
        path = tmp_path / f"part{i}.parquet"
        pq.write_table(pa.table({"x": [i * 10 + j for j in range(10)]}), path)
        paths.append(str(path))
    ctx = SessionContext()
    links = FileLinks(str(tmp_path / "links"))
    (tmp_path / "links").mkdir()
    sql = "select sum(x) as s from t"
    sums = []
    for share in ((paths[0],), (paths[1], paths[2]), (paths[0],)):
        out = run_task(lambda: ctx, spec(sql, [FilesShare("t", share)]), None, links)
        sums.append(pa.Table.from_batches(out[0]).column("s")[0].as_py())
        assert not ctx.table_exist("t")  # deregistered after the task
    assert sums == [45, 145 + 245, 45]
    # one directory of links per distinct list of files, reused by the third task
    assert len([p for p in (tmp_path / "links").iterdir() if p.name.startswith("files-")]) == 2
    with pytest.raises(ValueError, match=r"table 'datafusion\.public\.nope' not found"):
        run_task(lambda: ctx, spec("select * from t, nope", [FilesShare("t", paths[:1])]), None)
    assert not ctx.table_exist("t")  # also after a failure
