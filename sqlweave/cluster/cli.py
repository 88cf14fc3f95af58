"""``sqlweave coordinator | worker | cluster up``: the cluster's command-line entry points.

The top-level ``sqlweave`` command dispatches these words here::

    sqlweave coordinator [--bind tcp://127.0.0.1:PORT] [--heartbeat S]
    sqlweave worker --coordinator tcp://127.0.0.1:PORT
    sqlweave cluster up --workers N     # Ctrl-C stops everything cleanly
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

COMMANDS = ("coordinator", "worker", "cluster")


def _cluster(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="sqlweave cluster")
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("up", help="start a coordinator and workers on this machine")
    up.add_argument("--workers", type=int, default=2)
    up.add_argument("--bind", default="tcp://127.0.0.1", help="coordinator client address")
    up.add_argument("--heartbeat", type=float, default=1.0)
    ns = parser.parse_args(argv)

    from .localcluster import LocalCluster

    stop = threading.Event()
    # Ctrl-C and SIGTERM only set a flag: the cluster always shuts down through close()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *a: stop.set())
    with LocalCluster(workers=ns.workers, heartbeat_s=ns.heartbeat, bind=ns.bind) as cluster:
        print(
            f"sqlweave cluster with {ns.workers} workers at {cluster.address}\n"
            f"  connect with: %sqlweave connect {cluster.address}\n"
            "  press Ctrl-C to stop",
            flush=True,
        )
        while not stop.wait(0.5):
            pass
        print("stopping the cluster...", flush=True)
    return 0


def _worker(argv: Sequence[str]) -> int:
    from .worker import parse_args, supervise

    parse_args(argv)  # validate (and answer --help) before starting anything
    return supervise(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Run one of :data:`COMMANDS`; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: sqlweave {{{','.join(COMMANDS)}}} ...", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "coordinator":
        from .coordinator import main as coordinator_main

        return coordinator_main(rest)
    if command == "worker":
        return _worker(rest)
    return _cluster(rest)


if __name__ == "__main__":
    sys.exit(main())
