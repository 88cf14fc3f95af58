"""``%sqlweave cluster start|stop|status`` and ``%sqlweave connect``.

A thin skin over :mod:`sqlweave.cluster`: parse the words, call the library, display.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import pyarrow as pa

from ..cluster.coordinator_state import DEFAULT_HEARTBEAT_S
from ..errors import UsageError

USAGE = """\
%sqlweave cluster start [--workers N] [--heartbeat S] [--allow-path DIR]...
                                                        start a local cluster and use it; SQL
                                                        may use files under the working
                                                        directory and each DIR
%sqlweave cluster stop                                  stop it (back to the embedded engine)
%sqlweave cluster status                                workers, liveness, memory, fragments run
%sqlweave cluster history                               finished statements: time, rows, state
%sqlweave connect ADDRESS [--keys DIR]                 use a running cluster (tcp://host:port)"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message}\n{USAGE}")


def _start_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="%sqlweave cluster start", add_help=False)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--heartbeat", type=float, default=DEFAULT_HEARTBEAT_S)
    p.add_argument("--allow-path", action="append", default=[], metavar="DIR")
    return p


def cluster_command(args: list[str], magics: Any) -> object:
    """Run one cluster command for the ``SqlWeave`` magics object ``magics``.

    ``magics.session`` is the notebook's Session; ``magics.cluster`` holds the
    LocalCluster this notebook started (or None).
    """
    if not args:
        raise UsageError(USAGE)
    word, rest = args[0], args[1:]
    if word == "connect":
        return _connect(rest, magics)
    if word == "start":
        return _start(rest, magics)
    if word == "stop":
        return _stop(magics)
    if word == "status":
        return _status(magics)
    if word == "history":
        return _history(magics)
    raise UsageError(f"unknown cluster command {word!r}\n{USAGE}")


def _start(args: list[str], magics: Any) -> None:
    ns = _start_parser().parse_args(args)
    if ns.workers < 1:
        raise UsageError("--workers must be at least 1")
    if getattr(magics, "cluster", None) is not None:
        raise UsageError(
            f"a cluster is already running at {magics.cluster.address}; "
            "%sqlweave cluster stop first"
        )
    from ..cluster.localcluster import LocalCluster

    started = time.perf_counter()
    cluster = LocalCluster(
        workers=ns.workers, heartbeat_s=ns.heartbeat, allowed_paths=ns.allow_path
    )
    magics.cluster = cluster
    magics.session.set_engine(cluster)  # the cluster object: its keys come along
    allowed = f"; SQL may also use files under {', '.join(ns.allow_path)}" if ns.allow_path else ""
    print(
        f"started a cluster with {ns.workers} workers at {cluster.address} "
        f"in {time.perf_counter() - started:.1f} s; SQL cells now run there{allowed}"
    )


def _stop(magics: Any) -> None:
    cluster = getattr(magics, "cluster", None)
    if cluster is None:
        raise UsageError("no cluster was started in this notebook")
    if getattr(magics.session.engine, "address", None) == cluster.address:
        magics.session.set_engine("local")
    magics.cluster = None
    cluster.close()
    print("cluster stopped; SQL cells run on the embedded engine")


def _connect_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="%sqlweave connect", add_help=False)
    p.add_argument("address")
    p.add_argument("--keys", default=None, help="key directory from `sqlweave cluster keys`")
    return p


def _connect(args: list[str], magics: Any) -> None:
    ns = _connect_parser().parse_args(args)
    from ..cluster.client import ClusterEngine
    from ..errors import SqlWeaveError

    engine = ClusterEngine(ns.address, timeout_s=5.0, keys=ns.keys)
    try:
        status = engine.status()
    except SqlWeaveError as exc:
        engine.close()
        raise UsageError(f"no sqlweave coordinator answers at {ns.address}: {exc}") from None
    engine.timeout_s = 30.0
    magics.session.set_engine(engine)
    print(f"connected to {ns.address} ({len(status.workers)} workers)")


def _cluster_engine(magics: Any) -> Any:
    engine = magics.session.engine
    if getattr(engine, "name", "") != "cluster":
        cluster = getattr(magics, "cluster", None)
        if cluster is None:
            raise UsageError("not connected to a cluster: %sqlweave cluster start or connect")
        engine = cluster.client()
    return engine


def _history(magics: Any) -> object:
    entries = _cluster_engine(magics).history()
    table = pa.table(
        {
            "ended": pa.array([int(e.at) for e in entries], pa.int64()).cast(pa.timestamp("s")),
            "state": [e.state for e in entries],
            "seconds": pa.array([e.seconds for e in entries], pa.float64()),
            "rows": pa.array([e.rows for e in entries], pa.int64()),
            "bytes": pa.array([e.bytes for e in entries], pa.int64()),
            "sql": [e.sql for e in entries],
            "error": [e.error for e in entries],
        }
    )
    to_result = getattr(magics, "_table_result", None)
    return to_result(table) if to_result is not None else table


def _status(magics: Any) -> object:
    engine = _cluster_engine(magics)
    table = status_table(engine.status())
    to_result = getattr(magics, "_table_result", None)
    return to_result(table) if to_result is not None else table


def status_table(status: Any) -> pa.Table:
    """One row per worker: liveness, memory, fragments run."""
    workers = status.workers
    return pa.table(
        {
            "worker": [w.worker_id for w in workers],
            "liveness": [w.liveness.value for w in workers],
            "pid": pa.array([w.pid for w in workers], pa.int64()),
            "host": [w.host for w in workers],
            "cores": pa.array([w.cores for w in workers], pa.int32()),
            "memory_mb": [round(w.rss_bytes / 2**20, 1) for w in workers],
            "fragments_run": pa.array([w.fragments_run for w in workers], pa.int64()),
            "running": pa.array([w.running for w in workers], pa.int32()),
            "last_seen_s": [w.last_seen_s for w in workers],
        }
    )
