"""Process supervision shared by workers, the coordinator and ``LocalCluster``.

A supervised child dies with its parent (Linux ``PR_SET_PDEATHSIG``), runs with the
server environment (:func:`server_env`), and is restarted by :func:`supervise` after a
pause that grows while it keeps dying young (:class:`Backoff`, pure and tested without
processes). Its temporary files live in a directory the supervisor empties after every
exit, ``os._exit`` and SIGKILL included.

>>> b = Backoff()
>>> [b.after_exit(status=-9, ran_s=1.0) for _ in range(3)]
[0.1, 0.5, 1.0]
>>> b.after_exit(EXIT_REPLACE, ran_s=1.0), b.after_exit(-9, ran_s=HEALTHY_RUN_S)
(0.0, 0.0)
>>> print(b.after_exit(EXIT_REFUSED, ran_s=1.0))
None
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger("sqlweave.cluster.supervision")

#: exit status asking the supervisor for a replacement at once
EXIT_REPLACE = 75
#: exit status for "no coordinator answered": the supervisor tries again, backing off
EXIT_RETRY = 76
#: exit status of a refusal (wrong version or keys) that a retry would not fix
EXIT_REFUSED = 2
#: a supervisor's pauses before restarting a child that died young (killed, crashed)
RESTART_BACKOFF_S = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0)
#: a child that ran this long before dying starts again without delay
HEALTHY_RUN_S = 30.0
#: where a worker makes its temporary directory (its supervisor empties it after each exit)
WORKER_TMP_ENV = "SQLWEAVE_WORKER_TMP"


@dataclass
class Backoff:
    """When to restart a child that ended: pure, so the policy is tested without processes."""

    young_deaths: int = 0

    def after_exit(self, status: int, ran_s: float) -> float | None:
        """Seconds to wait before restarting, or None: do not restart.

        A clean exit or a refusal ends supervision; :data:`EXIT_REPLACE` restarts at once;
        anything else (killed, crashed, :data:`EXIT_RETRY`) restarts after a pause from
        :data:`RESTART_BACKOFF_S` that grows while the child keeps dying young.
        """
        if status in (0, EXIT_REFUSED):
            return None
        if status == EXIT_REPLACE:
            return 0.0
        if ran_s >= HEALTHY_RUN_S:
            self.young_deaths = 0
            return 0.0
        self.young_deaths += 1
        return RESTART_BACKOFF_S[min(self.young_deaths, len(RESTART_BACKOFF_S)) - 1]


def die_with_parent() -> None:
    """Linux: kill this (child) process if the process that started it dies (no orphans).

    Meant as a ``preexec_fn``; elsewhere it does nothing.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def child_setup(cpus: frozenset[int] | None = None) -> None:
    """A supervised child's ``preexec_fn``: die with the parent, optionally pinned to ``cpus``."""
    die_with_parent()
    if cpus:
        os.sched_setaffinity(0, cpus)


def server_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a worker or coordinator process.

    DataFusion allocates through mimalloc, which by default hands freed memory back to
    the system after 10 ms; a server process then faults every page of its next query's
    hash tables in again. Keeping it (``MIMALLOC_PURGE_DELAY=-1``) made the 22 TPC-H SF1
    queries on 2 workers 12% faster (q18: 1337 -> 733 ms). An explicit setting wins.

    >>> server_env({"MIMALLOC_PURGE_DELAY": "10"})
    {'MIMALLOC_PURGE_DELAY': '10'}
    >>> server_env({})
    {'MIMALLOC_PURGE_DELAY': '-1'}
    """
    out = dict(os.environ if env is None else env)
    out.setdefault("MIMALLOC_PURGE_DELAY", "-1")
    return out


def rss_bytes() -> int:
    """This process's resident memory in bytes (0 where ``/proc`` cannot tell)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def supervise(command: Sequence[str], what: str = "worker") -> int:
    """Run ``command`` as a child process and keep one running; returns the exit status.

    Restarts follow :class:`Backoff`. SIGTERM and SIGINT are forwarded to the child (as
    SIGTERM) and end supervision. The child finds its temporary directory's parent in
    ``$SQLWEAVE_WORKER_TMP``: a directory this supervisor empties after every exit.
    """
    logging.basicConfig(  # its messages reach whoever reads its stderr (LocalCluster: logging)
        level=os.environ.get("SQLWEAVE_LOG", "WARNING"),
        format="%(asctime)s supervisor %(process)d %(levelname)s %(message)s",
    )
    stopping = False
    child: subprocess.Popen[bytes] | None = None
    base = tempfile.mkdtemp(prefix="sqlweave-supervisor-", dir=os.environ.get(WORKER_TMP_ENV))
    env = server_env()
    env[WORKER_TMP_ENV] = base
    backoff = Backoff()

    def forward(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    old = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            started = time.monotonic()
            child = subprocess.Popen(list(command), env=env, preexec_fn=die_with_parent)
            while True:
                try:
                    rc = child.wait()
                    break
                except KeyboardInterrupt:
                    forward(signal.SIGINT, None)
            empty_dir(base)
            if stopping:
                return 0
            delay = backoff.after_exit(rc, time.monotonic() - started)
            if delay is None:
                return rc
            log.log(
                # a replacement the child asked for is routine; a death is worth a warning
                logging.INFO if rc == EXIT_REPLACE else logging.WARNING,
                "%s pid %d ended (status %d); starting a new one in %.1f s",
                what,
                child.pid,
                rc,
                delay,
            )
            deadline = time.monotonic() + delay
            while not stopping and time.monotonic() < deadline:
                time.sleep(0.05)
            if stopping:
                return 0
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        shutil.rmtree(base, ignore_errors=True)


def empty_dir(path: str) -> None:
    """Remove everything inside ``path``, keeping ``path`` itself."""
    for entry in os.listdir(path):
        shutil.rmtree(os.path.join(path, entry), ignore_errors=True)


def terminate(procs: Sequence[subprocess.Popen], grace_s: float = 3.0) -> None:
    """SIGTERM every process group of ``procs``, then SIGKILL whatever is left."""
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
    deadline = time.monotonic() + grace_s
    for p in procs:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGKILL)  # also any child the group still holds
        except (ProcessLookupError, PermissionError):
            pass
        if p.poll() is None:
            p.wait(5)
