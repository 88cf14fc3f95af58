"""Work the coordinator's loop hands to threads, and the pipe that wakes the loop.

The loop must never block: statements it runs itself, coordinator-located stages and
file-system reads (registration, parquet footers) go to a small thread pool. A job that
finishes writes a byte to a pipe the loop polls next to its sockets, so its result goes
out at once instead of at the next poll timeout.

>>> pool = OffLoop()
>>> fut = pool.submit(sum, [1, 2])
>>> fut.result(), pool.drain()
(3, True)
>>> pool.close()
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import threading
from collections.abc import Callable
from typing import Any

#: threads: a cancelled stage still running (DataFusion cannot be stopped from another
#: thread) must not hold up the next queries' coordinator stages
THREADS = 4


class OffLoop:
    """A thread pool whose finished jobs wake the loop through :attr:`wake_fd`."""

    def __init__(self, threads: int = THREADS) -> None:
        self._pool = cf.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="coordinator")
        self.wake_fd, self._wake_w = os.pipe()
        os.set_blocking(self.wake_fd, False)
        os.set_blocking(self._wake_w, False)  # a full pipe already means "wake up"
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future:
        """Run ``fn(*args)`` on a pool thread; the loop wakes when it ends."""
        fut = self._pool.submit(fn, *args)
        fut.add_done_callback(self._wake)
        return fut

    def _wake(self, _fut: cf.Future) -> None:
        """(On a pool thread) wake the loop: a job finished."""
        with self._lock:
            if self._wake_w >= 0:
                with contextlib.suppress(OSError):
                    os.write(self._wake_w, b"\0")

    def drain(self) -> bool:
        """(On the loop) empty the pipe; whether anything had woken it."""
        try:
            return bool(os.read(self.wake_fd, 4096))
        except (BlockingIOError, OSError):
            return False

    def close(self) -> None:
        """Stop taking jobs; running ones end in the background (they may be in native code)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:  # a job finishing later must not write to a reused fd
            for fd in (self._wake_w, self.wake_fd):
                if fd >= 0:
                    os.close(fd)
            self._wake_w = self.wake_fd = -1
