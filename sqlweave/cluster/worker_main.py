"""One worker process's command line: ``python -m sqlweave.cluster.worker_main``.

:func:`main` parses the arguments, loads the keys, runs a :class:`.worker.Worker` and maps
how it ended to an exit status its supervisor understands (:mod:`.supervision`);
:func:`supervise` runs such processes under a supervisor (``sqlweave worker``).

>>> ns = parse_args(["--coordinator", "tcp://127.0.0.1:5555", "--memory-limit", "2G"])
>>> ns.coordinator, ns.memory_limit, ns.host
('tcp://127.0.0.1:5555', '2G', '127.0.0.1')
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from . import curve, limits, supervision
from .native_activity import CANCEL_GRACE_S
from .registration import Versions
from .supervision import EXIT_REFUSED, EXIT_RETRY
from .transport import keep_freed_memory
from .worker import CoordinatorUnreachable, RegistrationError, Worker, WorkerConfig


def worker_command(args: Sequence[str]) -> list[str]:
    """The command line of one worker process (what a supervisor starts)."""
    return [sys.executable, "-m", "sqlweave.cluster.worker_main", *args]


def supervise(args: Sequence[str]) -> int:
    """Run a worker process with ``args`` and keep one running (see :mod:`.supervision`)."""
    return supervision.supervise(worker_command(args), "worker")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The worker's arguments (``--help`` and errors exit, as argparse does)."""
    parser = argparse.ArgumentParser(prog="sqlweave worker", description="Run a sqlweave worker.")
    parser.add_argument("--coordinator", required=True, help="the coordinator's address")
    parser.add_argument("--host", default="127.0.0.1", help="interface for the peer socket")
    parser.add_argument("--partitions", type=int, default=None, help="DataFusion partitions")
    parser.add_argument(
        "--cancel-grace",
        type=float,
        default=CANCEL_GRACE_S,
        help="seconds a cancelled task's work may go on before the process is replaced",
    )
    parser.add_argument(
        "--memory-limit",
        default=os.environ.get(limits.WORKER_MEMORY_ENV),
        help=f"DataFusion memory pool, e.g. 2G (spills beyond; default ${limits.WORKER_MEMORY_ENV})",
    )
    parser.add_argument(
        "--keys",
        default=None,
        help=f"CURVE key directory (default: ${curve.KEYS_ENV}; see `sqlweave cluster keys`)",
    )
    parser.add_argument("--fake-version", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of one worker process (no supervision: see :func:`supervise`)."""
    ns = parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("SQLWEAVE_LOG", "WARNING"),
        format="%(asctime)s worker %(process)d %(levelname)s %(message)s",
    )
    keep_freed_memory()  # received tables reuse heap pages instead of faulting in new ones
    versions = None
    if ns.fake_version:
        current = Versions.current()
        versions = Versions(ns.fake_version, current.datafusion, current.protocol)
    try:
        keys = curve.ClusterKeys.load(ns.keys) if ns.keys else curve.ClusterKeys.from_env()
    except curve.KeysError as exc:
        print(f"sqlweave worker: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    config = WorkerConfig(
        coordinator=ns.coordinator,
        host=ns.host,
        target_partitions=ns.partitions,
        cancel_grace_s=ns.cancel_grace,
        versions=versions,
        keys=keys,
        memory_limit=limits.parse_bytes(ns.memory_limit) if ns.memory_limit else None,
    )
    try:
        return Worker(config).run()
    except KeyboardInterrupt:
        return 0
    except CoordinatorUnreachable as exc:
        print(f"sqlweave worker: {exc}", file=sys.stderr)
        return EXIT_RETRY
    except RegistrationError as exc:
        print(f"sqlweave worker: {exc}", file=sys.stderr)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
