"""One thread per embedded engine, with a stack that fits what the guard admits, on which
the engine plans and runs; the caller's thread only waits, so it stays interruptible.

DataFusion checks for Ctrl-C only when its runtime gets round to a timer, which busy
join workers can postpone for minutes (measured: 190 s for a flights x weather join).
Here the query runs as an asyncio task on this thread, reading DataFusion's stream
asynchronously; an interrupt in the waiting thread cancels the task, which drops the
stream: DataFusion aborts its tasks at their next yield point, and the caller returns at
once instead of when the query would have ended.

>>> t = EngineThread("doctest")
>>> t.run(lambda: 1 + 1)
2
>>> t.close()
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..errors import QueryCancelled
from ..guard import ENGINE_STACK_BYTES

T = TypeVar("T")
#: threading.stack_size is process-wide: set it only around our own thread's start
_STACK_LOCK = threading.Lock()


def start_thread(target: Callable[[], None], name: str) -> threading.Thread:
    """Start a daemon thread with a stack of :data:`~sqlweave.guard.ENGINE_STACK_BYTES`."""
    with _STACK_LOCK:
        previous = threading.stack_size(ENGINE_STACK_BYTES)
        try:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
        finally:
            threading.stack_size(previous)
    return thread


class EngineThread:
    """An asyncio loop on a big-stack thread; :meth:`run` and :meth:`run_async` wait for
    a job there and turn a ``KeyboardInterrupt`` into a cancel plus ``QueryCancelled``."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = start_thread(self._serve, f"sqlweave-{name}")

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` on the engine thread; what it raises is raised here."""

        async def call() -> T:
            return fn()

        return self.run_async(call)

    def run_async(self, make: Callable[[], Awaitable[T]]) -> T:
        """Await ``make()`` on the engine thread; an interrupt while waiting cancels it."""
        if threading.current_thread() is self.thread:
            raise RuntimeError("EngineThread.run called from its own thread")
        future = asyncio.run_coroutine_threadsafe(_awaited(make), self.loop)
        try:
            return future.result()
        except KeyboardInterrupt:
            future.cancel()  # the task stops at its next await: the stream is dropped
            raise QueryCancelled() from None
        except cf.CancelledError:
            raise QueryCancelled() from None

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


async def _awaited(make: Callable[[], Awaitable[Any]]) -> Any:
    return await make()
