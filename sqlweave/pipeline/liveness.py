"""Whether the process that drives a run is still alive (pid, host and start time)."""

from __future__ import annotations

import os
import socket
from datetime import datetime

from .state import RunState

# the runner records its start after the process began; a pid whose process began later
# than this after the recorded start was reused by another program
_PID_REUSE_SLACK_S = 2.0


def pid_alive(pid: int, started_at: str = "") -> bool:
    """Whether process ``pid`` runs on this host (not a zombie) and began before ``started_at``.

    >>> pid_alive(os.getpid()), pid_alive(0)
    (True, False)
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[-1].split()
    except OSError:
        return True  # no /proc: the signal check is all we have
    # a zombie (killed, not yet reaped by its parent) is not running anything
    if fields[0] == "Z":
        return False
    began = _process_start(int(fields[19]))
    if began is None or not started_at:
        return True
    try:
        recorded = datetime.fromisoformat(started_at).timestamp()
    except ValueError:
        return True
    return began <= recorded + _PID_REUSE_SLACK_S


def runner_alive(state: RunState) -> bool:
    """Whether the runner that last drove ``state`` still runs (unknown on another host: yes)."""
    owner_at = state.resumes[-1].at if state.resumes else state.started.at
    if state.owner_host and state.owner_host != socket.gethostname():
        return True  # cannot check another machine
    return pid_alive(state.owner_pid, owner_at)


def _process_start(ticks: int) -> float | None:
    """Epoch seconds at which a process began, from its start time in clock ticks since boot."""
    try:
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError):
        return None
