"""Least privilege for SQL: a client reaches only files under the allowed roots.

The pure tests check :class:`PathPolicy` against DataFusion's plans; the process tests
start a real LocalCluster whose working directory and ``--allow-path`` are this test's
own folders (and without the test suite's ``$SQLWEAVE_ALLOW_PATHS``), and try what a
remote client would.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datafusion import SessionContext

from sqlweave import errors
from sqlweave.cluster.coordinator_main import parse_args
from sqlweave.cluster.localcluster import LocalCluster
from sqlweave.engines.paths_policy import ALLOW_ENV, Access, PathPolicy, PathRefused

# ----- the policy against DataFusion's plans (no processes) ------------------------------


@pytest.fixture
def policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PathPolicy:
    root = tmp_path / "root"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.delenv(ALLOW_ENV, raising=False)
    return PathPolicy.configured()


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE EXTERNAL TABLE e STORED AS CSV LOCATION '/etc/passwd'",
        # a comment that looks like the location must not fool the check
        "CREATE EXTERNAL TABLE e STORED AS CSV /* LOCATION 'ok.csv' */ LOCATION '/etc/passwd'",
        "CREATE EXTERNAL TABLE e STORED AS CSV LOCATION 'file:///etc/%70asswd'",
        "CREATE EXTERNAL TABLE e STORED AS CSV LOCATION 'file://localhost/etc/passwd'",
        "CREATE EXTERNAL TABLE e STORED AS CSV LOCATION 'x/../../../../../../etc/passwd'",
        "CREATE EXTERNAL TABLE e STORED AS CSV LOCATION '/et*/passwd'",
        "CREATE EXTERNAL TABLE e STORED AS PARQUET LOCATION 's3://bucket/data/'",
        "COPY (SELECT 1) TO '/tmp/outside.csv'",
        "EXPLAIN ANALYZE COPY (SELECT 1) TO '/tmp/outside.csv'",
        "SET datafusion.runtime.temp_directory = '/etc'",
        "SET datafusion.catalog.location = '/etc'",
    ],
)
def test_paths_outside_are_refused(policy: PathPolicy, sql: str) -> None:
    with pytest.raises(PathRefused, match="not allowed"):
        policy.check_statement(SessionContext(), sql)


def test_paths_inside_are_allowed(policy: PathPolicy) -> None:
    ctx = SessionContext()
    for sql in (
        "CREATE EXTERNAL TABLE e STORED AS CSV LOCATION 'data.csv'",
        f"CREATE EXTERNAL TABLE e STORED AS CSV LOCATION 'file://{os.getcwd()}/data.csv'",
        "CREATE EXTERNAL TABLE e STORED AS PARQUET LOCATION 'parts/*.parquet'",
        "COPY (SELECT 1) TO 'out/x.csv'",
        "SELECT 1",
    ):
        policy.check_statement(ctx, sql)
    assert os.listdir(".") == []  # checking touched nothing


def test_a_symlink_pointing_outside_is_refused(policy: PathPolicy) -> None:
    os.symlink("/etc/passwd", "link.csv")
    os.mkdir("dir")
    os.symlink("/etc", "dir/etc")
    ctx = SessionContext()
    with pytest.raises(PathRefused, match="resolves to /etc/passwd"):
        policy.check_statement(ctx, "CREATE EXTERNAL TABLE e STORED AS CSV LOCATION 'link.csv'")
    # a directory is listed recursively, following links
    with pytest.raises(PathRefused, match="through the symlink"):
        policy.check_statement(ctx, "CREATE EXTERNAL TABLE e STORED AS CSV LOCATION 'dir/'")


def test_a_folder_with_a_link_outside_may_be_written_not_read(policy: PathPolicy) -> None:
    """A project folder holding a virtualenv (links to the system's Python) may take temp
    files, but reading it as a table would list through the link."""
    os.mkdir("project")
    os.symlink("/etc", "project/etc")
    ctx = SessionContext()
    policy.check_statement(ctx, "SET datafusion.runtime.temp_directory = 'project'")
    with pytest.raises(PathRefused, match="through the symlink"):
        policy.check_statement(ctx, "CREATE EXTERNAL TABLE e STORED AS CSV LOCATION 'project/'")


def test_registered_paths_may_be_read_not_written(policy: PathPolicy, tmp_path: Path) -> None:
    outside = tmp_path / "registered"
    outside.mkdir()
    policy.register("reg", str(outside))
    assert policy.check(str(outside / "a.parquet"), Access.READ)
    with pytest.raises(PathRefused, match="writing"):
        policy.check(str(outside / "b.parquet"), Access.WRITE)
    ctx = SessionContext()
    ctx.register_parquet("reg", str(outside), schema=pa.schema([("x", pa.int64())]))
    with pytest.raises(PathRefused, match="writing"):
        policy.check_statement(ctx, "INSERT INTO reg VALUES (1)")


def test_a_dropped_or_replaced_table_forgets_its_location(
    policy: PathPolicy, tmp_path: Path
) -> None:
    """INSERT INTO a name checks where the table behind it now writes, not where an
    earlier table of that name did; a statement that failed changes nothing."""
    outside = tmp_path / "registered"
    outside.mkdir()
    ctx = SessionContext()

    def run(sql: str) -> None:
        effects = policy.check_statement(ctx, sql)
        ctx.sql(sql).collect()
        policy.apply(effects)

    for make_it_memory in ("DROP TABLE reg", "CREATE OR REPLACE TABLE reg AS SELECT 1 AS x"):
        policy.register("reg", str(outside))
        ctx.register_parquet("reg", str(outside), schema=pa.schema([("x", pa.int64())]))
        with pytest.raises(PathRefused, match="writing"):
            policy.check_statement(ctx, "INSERT INTO reg VALUES (1)")
        # IF NOT EXISTS of a table that exists changes nothing: still refused
        run("CREATE TABLE IF NOT EXISTS reg AS SELECT 1 AS x")
        with pytest.raises(PathRefused, match="writing"):
            policy.check_statement(ctx, "INSERT INTO reg VALUES (1)")
        policy.check_statement(ctx, "DROP TABLE reg")  # checked, never run: nothing changes
        assert "reg" in policy.locations
        run(make_it_memory)
        assert "reg" not in policy.locations
        ctx.sql("CREATE TABLE IF NOT EXISTS reg AS SELECT 1 AS x").collect()
        run("INSERT INTO reg VALUES (2)")  # a memory table now: allowed
        ctx.deregister_table("reg")
    policy.register("reg", str(outside))
    policy.forget("reg")  # what deregistering through the API does
    assert "reg" not in policy.locations


def test_allow_path_is_repeatable() -> None:
    assert parse_args(["--allow-path", "a", "--allow-path", "b"]).allow_path == ["a", "b"]


# ----- a real cluster --------------------------------------------------------------------


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {k: tmp_path_factory.mktemp(k) for k in ("cwd", "extra", "outside")}


@pytest.fixture(scope="module")
def cluster(folders: dict[str, Path]) -> Iterator[LocalCluster]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(ALLOW_ENV, raising=False)  # only what this test allows
        mp.chdir(folders["cwd"])  # the coordinator's working directory
        c = LocalCluster(workers=1, heartbeat_s=0.5, allowed_paths=[folders["extra"]])
    with c:
        yield c


def test_reading_etc_passwd_is_refused(cluster: LocalCluster, folders) -> None:
    e = cluster.client()
    with pytest.raises(errors.UsageError) as info:
        e.execute("CREATE EXTERNAL TABLE pw STORED AS CSV LOCATION '/etc/passwd'")
    assert "/etc/passwd" in str(info.value)
    assert str(os.path.realpath(folders["cwd"])) in str(info.value)  # names the roots
    assert "pw" not in e.tables()
    # no URL tables, no file-reading table functions
    for sql in ("SELECT * FROM '/etc/passwd'", "SELECT * FROM read_csv('/etc/passwd')"):
        with pytest.raises(errors.SqlError, match="not found"):
            e.execute(sql)


def test_a_symlink_in_the_working_directory_is_refused(cluster: LocalCluster, folders) -> None:
    os.symlink("/etc/passwd", folders["cwd"] / "passwd.csv")
    e = cluster.client()
    with pytest.raises(errors.UsageError, match="resolves to /etc/passwd"):
        e.execute("CREATE EXTERNAL TABLE pw STORED AS CSV LOCATION 'passwd.csv'")
    assert "pw" not in e.tables()


def test_copy_outside_is_refused_and_creates_nothing(cluster: LocalCluster, folders) -> None:
    e = cluster.client()
    for target in (f"/tmp/sqlweave-outside-{uuid.uuid4().hex}.csv", folders["outside"] / "o.csv"):
        with pytest.raises(errors.UsageError, match=r"writing .* is not allowed"):
            e.execute(f"COPY (SELECT 1) TO '{target}'")
        assert not os.path.exists(target)
    assert os.listdir(folders["outside"]) == []


def test_allowed_paths_work(cluster: LocalCluster, folders) -> None:
    e = cluster.client()
    pq.write_table(pa.table({"x": [1, 2, 3]}), folders["cwd"] / "nums.parquet")
    e.execute("CREATE EXTERNAL TABLE nums STORED AS PARQUET LOCATION 'nums.parquet'")
    e.execute("COPY (SELECT x * 10 AS x FROM nums) TO 'tens.parquet'")
    assert (folders["cwd"] / "tens.parquet").exists()
    # --allow-path extends the roots: read, write and insert there
    pq.write_table(pa.table({"y": [7]}), folders["extra"] / "seven.parquet")
    e.execute(f"CREATE EXTERNAL TABLE seven STORED AS PARQUET LOCATION '{folders['extra']}/'")
    e.execute(f"COPY (SELECT 1 AS y) TO '{folders['extra']}/one.parquet'")
    e.execute("INSERT INTO seven VALUES (8)")
    assert e.execute("SELECT sum(y) AS s FROM seven").to_pylist() == [{"s": 16}]


def test_registered_file_is_readable_not_writable(cluster: LocalCluster, folders) -> None:
    e = cluster.client()
    d = folders["outside"] / "registered"
    d.mkdir()
    pq.write_table(pa.table({"z": [5]}), d / "z.parquet")
    e.register_path("reg", str(d))  # through the API, by a keyed client
    e.execute(f"CREATE EXTERNAL TABLE reg2 STORED AS PARQUET LOCATION '{d}/'")
    assert e.execute("SELECT z FROM reg2").to_pylist() == [{"z": 5}]
    with pytest.raises(errors.UsageError, match="writing"):
        e.execute("INSERT INTO reg2 VALUES (6)")
    with pytest.raises(errors.UsageError, match="writing"):
        e.execute(f"COPY (SELECT 1) TO '{d}/more.parquet'")
    assert sorted(os.listdir(d)) == ["z.parquet"]


def test_a_name_reused_after_drop_is_writable(cluster: LocalCluster, folders) -> None:
    e = cluster.client()
    d = folders["outside"] / "reused"
    d.mkdir()
    pq.write_table(pa.table({"z": [5]}), d / "z.parquet")
    for forget in ("drop table reused", "deregister"):
        e.register_path("reused", str(d))
        with pytest.raises(errors.UsageError, match="writing"):
            e.execute("INSERT INTO reused VALUES (6)")
        if forget == "deregister":
            e.deregister("reused")
        else:
            e.execute(forget)
        e.execute("CREATE TABLE reused AS SELECT 1 AS z")
        e.execute("INSERT INTO reused VALUES (6)")
        assert e.execute("SELECT sum(z) AS s FROM reused").to_pylist() == [{"s": 7}]
        e.execute("DROP TABLE reused")
    assert sorted(os.listdir(d)) == ["z.parquet"]


def test_embedded_sessions_check_only_when_asked(tmp_path: Path, monkeypatch) -> None:
    from sqlweave import Session

    (tmp_path / "cwd").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "a.csv").write_text("x\n1\n")
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.delenv(ALLOW_ENV, raising=False)
    ddl = f"CREATE EXTERNAL TABLE a STORED AS CSV LOCATION '{tmp_path}/outside/a.csv'"
    with Session(allowed_paths=[]) as strict:
        with pytest.raises(PathRefused, match="reading"):
            strict.sql(ddl)
        assert "a" not in strict.tables()
        strict.sql("COPY (SELECT 1 AS x) TO 'one.csv'")
        assert (tmp_path / "cwd" / "one.csv").exists()
        strict.register("reg", str(tmp_path / "outside" / "a.csv"))  # the API may
        strict.sql(ddl)  # and SQL may then read what was registered
    with Session() as default:  # a local user's SQL reaches the user's files
        default.sql(ddl)
        assert default.sql("SELECT x FROM a").to_arrow().to_pylist() == [{"x": 1}]


def test_without_keys_registering_is_checked_too(tmp_path: Path) -> None:
    """Without keys anyone on the machine may connect: the API is no better than SQL."""
    (tmp_path / "cwd").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(ALLOW_ENV, raising=False)
        mp.chdir(tmp_path / "cwd")
        c = LocalCluster(workers=0, heartbeat_s=0.5, keys=False)
    with c:
        e = c.client()
        with pytest.raises(errors.UsageError, match="reading /etc/passwd is not allowed"):
            e.register_path("pw", "/etc/passwd", "csv")
        assert "pw" not in e.tables()
        (tmp_path / "cwd" / "a.csv").write_text("x\n1\n")
        e.register_path("a", str(tmp_path / "cwd" / "a.csv"))
        assert e.execute("SELECT x FROM a").to_pylist() == [{"x": 1}]


def test_a_nested_comment_cannot_pass_a_statement_off_as_a_query(policy: PathPolicy) -> None:
    # DataFusion nests block comments: all of "/* /* */ SELECT 1 */" is one comment
    sql = "/* /* */ SELECT 1 */ COPY (SELECT 1) TO '/tmp/outside.csv'"
    with pytest.raises(PathRefused, match="writing"):
        policy.check_statement(SessionContext(), sql)


def test_a_commented_out_location_reaches_no_worker(cluster: LocalCluster, folders) -> None:
    """The catalog (what workers read) must not take a location from a comment."""
    e = cluster.client()
    pq.write_table(pa.table({"v": ["allowed"]}), folders["cwd"] / "ok.parquet")
    pq.write_table(pa.table({"v": ["secret"]}), folders["outside"] / "secret.parquet")
    e.execute(
        "CREATE EXTERNAL TABLE trick STORED AS PARQUET "
        f"/* LOCATION '{folders['outside']}/secret.parquet' */ LOCATION 'ok.parquet'"
    )
    assert e.execute("SELECT v FROM trick").to_pylist() == [{"v": "allowed"}]
    pq.write_table(pa.table({"v": ["decoy"]}), folders["cwd"] / "decoy.parquet")
    e.execute(
        "CREATE EXTERNAL TABLE trick2 STORED AS PARQUET "
        "/* LOCATION 'decoy.parquet' */ LOCATION 'ok.parquet'"
    )
    assert e.execute("SELECT v FROM trick2").to_pylist() == [{"v": "allowed"}]
