"""The coordinator process's command line: ``sqlweave coordinator`` and
``python -m sqlweave.cluster.coordinator`` (both end here).

It parses the options, builds a :class:`~.coordinator.Coordinator`, writes the
connection info file, and serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from .. import errors
from . import curve
from .coordinator import Coordinator
from .coordinator_state import DEFAULT_HEARTBEAT_S
from .transport import keep_freed_memory


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sqlweave coordinator")
    parser.add_argument(
        "--bind",
        default="tcp://127.0.0.1",
        help="client address: tcp://HOST[:PORT] (default 127.0.0.1, random port)",
    )
    parser.add_argument("--worker-bind", default=None, help="worker address (default: random)")
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=DEFAULT_HEARTBEAT_S,
        help=f"heartbeat period, seconds (default {DEFAULT_HEARTBEAT_S}; lost after 5 silent)",
    )
    parser.add_argument(
        "--info-file", default=None, help="write the connection info JSON here once bound"
    )
    parser.add_argument(
        "--keys",
        default=None,
        help=f"CURVE key directory (default: ${curve.KEYS_ENV}; see `sqlweave cluster keys`)",
    )
    parser.add_argument(
        "--http",
        type=int,
        default=None,
        metavar="PORT",
        help="serve /health/live, /health/ready, /status, /queries, /metrics on this port",
    )
    parser.add_argument("--http-host", default="127.0.0.1", help="interface for --http")
    parser.add_argument(
        "--allow-path",
        action="append",
        default=[],
        metavar="DIR",
        help="a directory SQL may read and write besides the working directory (repeatable)",
    )
    parser.add_argument(
        "--state-dir",
        default=None,
        help="keep the catalog and query history here (journal + snapshot): a restart recovers them",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    ns = parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("SQLWEAVE_LOG", "WARNING"),
        format="%(asctime)s coordinator %(levelname)s %(message)s",
    )
    keep_freed_memory()  # received tables reuse heap pages instead of faulting in new ones
    try:
        keys = curve.ClusterKeys.load(ns.keys) if ns.keys else curve.ClusterKeys.from_env()
        coord = Coordinator(
            ns.bind,
            ns.heartbeat,
            ns.worker_bind,
            keys=keys,
            state_dir=ns.state_dir,
            allowed_paths=ns.allow_path,
        )
    except errors.UsageError as exc:
        print(f"sqlweave coordinator: {exc}", file=sys.stderr)
        return 2
    if ns.info_file:
        tmp = ns.info_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(coord.info.to_json())
        os.replace(tmp, ns.info_file)
    if ns.http is not None:
        print(f"  operators: {coord.serve_http(ns.http_host, ns.http)}/status", flush=True)
    print(f"sqlweave coordinator listening on {coord.info.clients}", flush=True)
    print(f"  workers connect to {coord.info.workers}", flush=True)
    import signal

    signal.signal(signal.SIGTERM, lambda *a: coord.stop())
    try:
        coord.serve()
    except KeyboardInterrupt:
        pass
    sys.stdout.flush()
    sys.stderr.flush()
    # do not wait for a coordinator stage that may still be running in native code
    os._exit(0)
