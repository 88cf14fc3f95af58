"""Environment defaults for DataFusion's native runtime, set before it starts.

DataFusion (through datafusion-python) starts one tokio runtime per process, at its first
query, and that runtime reads two variables once, when it starts its threads:

- ``RUST_MIN_STACK``: the stack of every thread Rust's standard library starts. The runtime
  threads evaluate expressions recursively; at Rust's 2 MiB default an ``x < 0 OR x < -1 OR …``
  chain segfaulted between 2,500 and 3,000 terms, with :data:`NATIVE_STACK_BYTES` 3,000 ran
  (the guard's depth limit relies on it, see :mod:`sqlweave.guard`).
- ``TOKIO_WORKER_THREADS``: how many runtime threads there are. A cancelled query stops at its
  operators' next yield, but a join that never yields (a nested-loop or hash join under an
  aggregate, producing many output batches per input batch) keeps its thread until it ends
  (measured: 80 s for flights x weather); with one thread per core the next query would wait
  for them, spare threads let it run at once, sharing the cores meanwhile.

:func:`set_runtime_defaults` sets both, keeping any value the user chose. Setting them once
the runtime runs changes nothing; :func:`runtime_started` tells whether it does.
"""

from __future__ import annotations

import os
from pathlib import Path

RUST_MIN_STACK = "RUST_MIN_STACK"
TOKIO_WORKER_THREADS = "TOKIO_WORKER_THREADS"
#: stack for DataFusion's runtime threads, which evaluate expressions
NATIVE_STACK_BYTES = 32 * 1024 * 1024
#: runtime threads per core (at least :data:`MIN_RUNTIME_THREADS`); 4 per core made hundreds
#: of threads on big machines, 2 per core with a floor of 8 gives 8 on 2 cores
RUNTIME_THREADS_PER_CORE = 2
MIN_RUNTIME_THREADS = 8
#: the name prefix of the runtime's threads (tokio's ``tokio-rt-worker``, blocking pool...)
_TOKIO_THREAD_PREFIX = "tokio-"


def runtime_threads(cores: int | None = None) -> int:
    """How many runtime threads sqlweave asks for on ``cores`` cores (default: this machine's).

    >>> runtime_threads(2), runtime_threads(16)
    (8, 32)
    """
    return max(MIN_RUNTIME_THREADS, RUNTIME_THREADS_PER_CORE * (cores or os.cpu_count() or 2))


def set_runtime_defaults() -> bool:
    """Set ``RUST_MIN_STACK`` and ``TOKIO_WORKER_THREADS`` unless the environment has them;
    whether the runtime threads will have stacks of at least :data:`NATIVE_STACK_BYTES`.

    False when DataFusion already started its runtime in this process (then the values set
    here come too late) or when the user chose a smaller or unreadable stack size.
    """
    os.environ.setdefault(RUST_MIN_STACK, str(NATIVE_STACK_BYTES))
    os.environ.setdefault(TOKIO_WORKER_THREADS, str(runtime_threads()))
    try:
        big_stacks = int(os.environ[RUST_MIN_STACK]) >= NATIVE_STACK_BYTES
    except ValueError:
        big_stacks = False
    return big_stacks and not runtime_started()


def runtime_started() -> bool:
    """Whether a tokio runtime runs in this process (one of its threads is alive)."""
    tasks = Path("/proc/self/task")
    if not tasks.is_dir():
        return False
    for task in tasks.iterdir():
        try:
            if (task / "comm").read_text().startswith(_TOKIO_THREAD_PREFIX):
                return True
        except OSError:
            continue  # the thread ended meanwhile
    return False
