"""``sqlweave coordinator | worker | cluster up``: the cluster's command-line entry points.

The top-level ``sqlweave`` command dispatches these words here::

    sqlweave coordinator [--bind tcp://127.0.0.1:PORT] [--heartbeat S]
    sqlweave worker --coordinator tcp://127.0.0.1:PORT
    sqlweave cluster up --workers N     # Ctrl-C stops everything cleanly
    sqlweave cluster keys DIR           # CURVE keys for a coordinator, workers and clients
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from .coordinator_state import DEFAULT_HEARTBEAT_S

COMMANDS = ("coordinator", "worker", "cluster")


def _cluster(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="sqlweave cluster")
    sub = parser.add_subparsers(dest="action", required=True)
    up = sub.add_parser("up", help="start a coordinator and workers on this machine")
    up.add_argument("--workers", type=int, default=2)
    up.add_argument("--bind", default="tcp://127.0.0.1", help="coordinator client address")
    up.add_argument("--heartbeat", type=float, default=DEFAULT_HEARTBEAT_S)
    up.add_argument(
        "--keys", default=None, help="key directory (default: fresh keys in a private temp dir)"
    )
    up.add_argument(
        "--allow-path",
        action="append",
        default=[],
        metavar="DIR",
        help="a directory SQL may read and write besides the working directory (repeatable)",
    )
    keys = sub.add_parser("keys", help="create CURVE keys: coordinator, worker, client(s)")
    keys.add_argument("directory", nargs="?", default="sqlweave-keys")
    keys.add_argument(
        "--client",
        action="append",
        default=None,
        metavar="NAME",
        help="a client key pair to create (repeatable; default: one named 'client')",
    )
    ns = parser.parse_args(argv)
    if ns.action == "keys":
        return _keys(ns.directory, ns.client or ["client"])

    from .localcluster import LocalCluster

    stop = threading.Event()
    # Ctrl-C and SIGTERM only set a flag: the cluster always shuts down through close()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *a: stop.set())
    with LocalCluster(
        workers=ns.workers,
        heartbeat_s=ns.heartbeat,
        bind=ns.bind,
        keys=ns.keys or True,
        allowed_paths=ns.allow_path,
    ) as cluster:
        assert cluster.keys is not None
        print(
            f"sqlweave cluster with {ns.workers} workers at {cluster.address}\n"
            f"  connect with: %sqlweave connect {cluster.address} --keys {cluster.keys.directory}\n"
            "  press Ctrl-C to stop",
            flush=True,
        )
        while not stop.wait(0.5):
            pass
        print("stopping the cluster...", flush=True)
    return 0


def _keys(directory: str, clients: list[str]) -> int:
    from .curve import KeysError, create_keys

    try:
        d = create_keys(directory, clients)
    except (KeysError, OSError) as exc:
        print(f"sqlweave cluster keys: {exc}", file=sys.stderr)
        return 2
    print(
        f"keys written to {d}\n"
        f"  coordinator: sqlweave coordinator --keys {d}   (holds coordinator.key_secret)\n"
        f"  workers:     sqlweave worker --coordinator ADDRESS --keys {d}\n"
        f"  clients:     Session(engine=ADDRESS, keys='{d}') or %sqlweave connect ADDRESS --keys {d}\n"
        "  copy to each machine only the secrets its role needs; authorized_keys lists who may connect"
    )
    return 0


def _worker(argv: Sequence[str]) -> int:
    from .worker_main import parse_args, supervise

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
        from .coordinator_main import main as coordinator_main

        return coordinator_main(rest)
    if command == "worker":
        return _worker(rest)
    return _cluster(rest)


if __name__ == "__main__":
    sys.exit(main())
