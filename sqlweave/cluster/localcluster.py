"""``LocalCluster``: a coordinator and N worker processes on this machine.

Typical use (it starts processes, so it is shown here rather than run)::

    with LocalCluster(workers=2) as cluster:
        engine = ClusterEngine(cluster.address)

Every process runs in its own process group and dies with its parent (Linux
``PR_SET_PDEATHSIG``); :meth:`LocalCluster.close`, a ``weakref.finalize`` and
therefore interpreter exit end them all, so no orphans are left behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from ..errors import UsageError
from . import curve
from . import protocol as P
from .coordinator_state import DEFAULT_HEARTBEAT_S
from .supervision import WORKER_TMP_ENV, child_setup, server_env, terminate

_REPO_ROOT = str(Path(__file__).resolve().parents[2])


def _env() -> dict[str, str]:
    env = server_env()
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = _REPO_ROOT + (os.pathsep + path if path else "")
    return env


#: where the coordinator's, supervisors' and workers' own log lines go
process_log = logging.getLogger("sqlweave.cluster.processes")
_LEVELS = {
    name: getattr(logging, name) for name in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
}


def _forward_log(pipe: IO[bytes]) -> None:
    """Hand a child process's stderr lines to :data:`process_log` until it closes."""
    with pipe:
        for raw in iter(pipe.readline, b""):
            line = raw.decode(errors="replace").rstrip()
            level = next((v for k, v in _LEVELS.items() if f" {k} " in line), logging.INFO)
            with contextlib.suppress(Exception):  # never stop draining: the child would block
                process_log.log(level, "%s", line)


class LocalCluster:
    """Start a coordinator and ``workers`` worker processes; wait until all registered.

    Args:
        workers: number of worker processes.
        heartbeat_s: heartbeat period the coordinator hands out (short in tests).
        bind: the coordinator's client address (default 127.0.0.1, random port).
        worker_cpus: pin worker ``i`` to CPU ``worker_cpus[i % len]`` (benchmarks).
        worker_partitions: DataFusion target partitions inside each worker.
        start_timeout_s: how long to wait for registration.
        keys: ``True`` (default) creates fresh CURVE keys for this cluster; a key directory
            from ``sqlweave cluster keys`` uses those; ``False`` runs without encryption
            (loopback only). Its processes find the keys through ``$SQLWEAVE_KEYS``, never argv.
        worker_memory: each worker's DataFusion memory pool (bytes or ``"2G"``); queries
            spill beyond it where DataFusion can, else fail with "query exceeded memory".
        http_port: serve the coordinator's operator endpoint (``/status``, ``/metrics``, ...)
            on 127.0.0.1 at this port (see :mod:`.observe`).
        allowed_paths: directories SQL may read and write besides the working directory
            (the coordinator's ``--allow-path``; see :mod:`.paths_policy`).
    """

    def __init__(
        self,
        workers: int = 2,
        heartbeat_s: float = DEFAULT_HEARTBEAT_S,
        bind: str = "tcp://127.0.0.1",
        worker_cpus: Sequence[int] | None = None,
        worker_partitions: int | None = None,
        start_timeout_s: float = 60.0,
        log_level: str | None = None,
        keys: bool | str | os.PathLike[str] = True,
        worker_memory: str | int | None = None,
        http_port: int | None = None,
        allowed_paths: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        if workers < 0:
            raise UsageError("workers must be >= 0")
        self.heartbeat_s = heartbeat_s
        self.worker_cpus = list(worker_cpus or [])
        self.worker_partitions = worker_partitions
        self.worker_memory = worker_memory
        self._procs: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        self._env = _env()
        if log_level:
            self._env["SQLWEAVE_LOG"] = log_level
        self._finalizer = weakref.finalize(self, terminate, self._procs)
        self._tmp = tempfile.TemporaryDirectory(prefix="sqlweave-cluster-")
        self._client = None
        self.keys: curve.ClusterKeys | None = None
        # every worker's temporary files live in here: close() removes whatever a killed
        # worker or supervisor could not
        workers_tmp = os.path.join(self._tmp.name, "workers")
        os.mkdir(workers_tmp)
        self._env[WORKER_TMP_ENV] = workers_tmp
        if keys is True:
            keys = curve.create_keys(os.path.join(self._tmp.name, "keys"))
        if keys is not False:
            self.keys = curve.ClusterKeys.load(keys)
            self._env[curve.KEYS_ENV] = str(self.keys.directory)
        else:
            self._env.pop(curve.KEYS_ENV, None)
        try:
            self.coordinator = self._spawn(
                [
                    "-m",
                    "sqlweave.cluster.coordinator",
                    "--bind",
                    bind,
                    "--heartbeat",
                    str(heartbeat_s),
                    "--info-file",
                    os.path.join(self._tmp.name, "info.json"),
                    *(["--http", str(http_port)] if http_port is not None else []),
                    *(a for p in allowed_paths for a in ("--allow-path", os.fspath(p))),
                ],
                None,
            )
            self.info = self._wait_info(start_timeout_s)
            if self.keys is not None:
                curve.remember(self.info.clients, self.keys)
            for _ in range(workers):
                self.add_worker()
            self.wait_for_workers(workers, start_timeout_s)
        except BaseException:
            self.close()
            raise

    @property
    def address(self) -> str:
        """The coordinator's client address: pass it to ``ClusterEngine`` or ``Session``."""
        return self.info.clients

    def _spawn(self, args: list[str], cpus: frozenset[int] | None) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, *args],
            env=self._env,
            stdout=subprocess.DEVNULL,  # the addresses are in self.info
            # not the kernel's stderr, which lands in whatever cell runs: housekeeping
            # ("worker pid … ended; starting a new one") goes to logging instead
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=lambda: child_setup(cpus),
        )
        threading.Thread(
            target=_forward_log, args=(proc.stderr,), name="sqlweave-cluster-log", daemon=True
        ).start()
        self._procs.append(proc)
        return proc

    def _wait_info(self, timeout_s: float) -> P.ConnectionInfo:
        path = os.path.join(self._tmp.name, "info.json")
        deadline = time.monotonic() + timeout_s
        while not os.path.exists(path):
            if self.coordinator.poll() is not None:
                raise RuntimeError(f"coordinator exited with status {self.coordinator.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("the coordinator did not start")
            time.sleep(0.02)
        with open(path) as f:
            return P.ConnectionInfo.from_json(f.read())

    def add_worker(self) -> subprocess.Popen:
        """Start one more worker process (under a supervisor that replaces it on request)."""
        i = len(self.workers)
        cpus = (
            frozenset([self.worker_cpus[i % len(self.worker_cpus)]]) if self.worker_cpus else None
        )
        args = ["-m", "sqlweave.cluster.cli", "worker", "--coordinator", self.address]
        if self.worker_partitions:
            args += ["--partitions", str(self.worker_partitions)]
        if self.worker_memory:
            args += ["--memory-limit", str(self.worker_memory)]
        proc = self._spawn(args, cpus)
        self.workers.append(proc)
        return proc

    def client(self):  # -> ClusterEngine
        if self._client is None:
            from .client import ClusterEngine

            self._client = ClusterEngine(self.address, keys=self.keys)
        return self._client

    def status(self) -> P.ClusterStatus:
        """Workers (liveness, memory, fragments run) as the coordinator sees them."""
        return self.client().status()

    def history(self, limit: int = 100) -> tuple[P.HistoryEntry, ...]:
        """Finished statements, oldest first: duration, rows, bytes, state."""
        return self.client().history(limit)

    def alive(self) -> list[str]:
        return [
            w.worker_id for w in self.status().workers if w.liveness is not P.WorkerLiveness.LOST
        ]

    def wait_for_workers(self, n: int, timeout_s: float = 60.0) -> None:
        """Block until exactly ``n`` workers are registered and not lost."""
        deadline = time.monotonic() + timeout_s
        while True:
            alive = self.alive()
            if len(alive) == n:
                return
            if self.coordinator.poll() is not None:
                raise RuntimeError("the coordinator exited")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(alive)} of {n} workers registered after {timeout_s} s")
            time.sleep(0.05)

    def worker_pids(self, i: int) -> list[int]:
        """The supervisor's pid and its worker children's pids for worker slot ``i``."""
        sup = self.workers[i].pid
        try:
            with open(f"/proc/{sup}/task/{sup}/children") as f:
                children = [int(x) for x in f.read().split()]
        except OSError:
            children = []
        return [sup, *children]

    def kill_worker(self, i: int, sig: int = signal.SIGKILL) -> None:
        """Kill worker slot ``i`` (its supervisor too, so it stays dead)."""
        proc = self.workers[i]
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(10)

    def pids(self) -> list[int]:
        """Every process this cluster started and their children (for orphan checks)."""
        out = []
        for p in self._procs:
            out.append(p.pid)
            try:
                with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
                    out.extend(int(x) for x in f.read().split())
            except OSError:
                pass
        return out

    def close(self) -> None:
        """Stop everything; idempotent."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if getattr(self, "info", None) is not None:
            curve.forget(self.info.clients)
        self._finalizer()
        self._tmp.cleanup()

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
