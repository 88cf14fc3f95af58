"""One thread per embedded engine, with a stack that fits what the guard admits, on which
the engine plans and runs; the caller's thread only waits, so it stays interruptible.

DataFusion checks for Ctrl-C only when its runtime gets round to a timer, which busy
join workers can postpone for minutes (measured: 190 s for a flights x weather join).
Here the query runs as an asyncio task on this thread, reading DataFusion's stream
asynchronously; an interrupt in the waiting thread cancels the task, which drops the
stream: DataFusion aborts its tasks at their next yield point, and the caller returns at
once instead of when the query would have ended.

Reading asynchronously has a price at interpreter exit: DataFusion (through
pyo3-async-runtimes) completes each awaited step from a thread of its own runtime, which
takes the GIL to hand the result to this loop. A runtime thread that still wants the GIL
once Python has begun finalizing is ended by the interpreter in the middle of native code,
and the process dies of SIGABRT or SIGSEGV after all its output (measured: 10 of 40
``python -c 'import sqlweave; sqlweave.Session().sql("select 1")'`` on 2 busy cores). So
an ``atexit`` hook stops the thread and then waits until DataFusion has handed back every
step it was given (:meth:`_EngineLoop.native_quiet`).

>>> t = EngineThread("doctest")
>>> t.run(lambda: 1 + 1)
2
>>> t.close()
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures as cf
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..errors import QueryCancelled
from ..guard import ENGINE_STACK_BYTES

T = TypeVar("T")
#: threading.stack_size is process-wide: set it only around our own thread's start
_STACK_LOCK = threading.Lock()
#: longest wait at exit for DataFusion to hand back steps; only a query still running in
#: a non-yielding operator (a cross join) when the process ends makes it wait that long
EXIT_WAIT_S = 5.0


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


class _NativeFuture(asyncio.Future):
    """A future native code completes. pyo3-async-runtimes asks ``cancelled()`` from its
    runtime thread first thing, whether it then sets a result or drops a cancelled one:
    that call marks the moment DataFusion is done with the future but for returning the
    GIL."""

    answered = False

    def cancelled(self) -> bool:
        if threading.get_ident() != self.get_loop().thread_id:
            self.answered = True
        return super().cancelled()


class _EngineLoop(asyncio.SelectorEventLoop):
    """The engine thread's event loop; it knows which futures native code still owes."""

    def __init__(self) -> None:
        super().__init__()
        self.thread_id: int | None = None
        self._futures: weakref.WeakSet[_NativeFuture] = weakref.WeakSet()

    def create_future(self) -> asyncio.Future:
        # nothing but native code creates futures on this loop (our jobs are coroutines)
        future = _NativeFuture(loop=self)
        self._futures.add(future)
        return future

    def native_quiet(self) -> bool:
        """True once native threads want the GIL no more: every future handed out was
        answered (or dropped by native code, which keeps one until it has answered), and
        no thread unknown to ``threading`` is inside Python (one that lost the GIL while
        answering)."""
        if any(not f.answered for f in list(self._futures)):
            return False
        known = {t.ident for t in threading.enumerate()}
        return not set(sys._current_frames()) - known


class EngineThread:
    """An asyncio loop on a big-stack thread; :meth:`run` and :meth:`run_async` wait for
    a job there and turn a ``KeyboardInterrupt`` into a cancel plus ``QueryCancelled``."""

    def __init__(self, name: str) -> None:
        self.loop = _EngineLoop()
        self.thread = start_thread(self._serve, f"sqlweave-{name}")
        atexit.register(self.close)

    def _serve(self) -> None:
        self.loop.thread_id = threading.get_ident()
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

    def close(self, wait_s: float = EXIT_WAIT_S) -> None:
        """Cancel what runs, stop the thread, and wait (at most ``wait_s``) until
        DataFusion has handed back every step it was given."""
        if self.loop.is_closed():
            return
        atexit.unregister(self.close)
        if self.thread.is_alive():
            stopped = asyncio.run_coroutine_threadsafe(_cancel_all(), self.loop)
            try:
                stopped.result(timeout=wait_s)
            except (cf.TimeoutError, cf.CancelledError):
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=wait_s)
        deadline = time.monotonic() + wait_s
        while not self.loop.native_quiet() and time.monotonic() < deadline:
            time.sleep(0.001)  # gives the GIL to the native thread that wants it
        if not self.thread.is_alive():
            self.loop.close()


async def _cancel_all() -> None:
    me = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not me]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _awaited(make: Callable[[], Awaitable[Any]]) -> Any:
    try:
        return await make()
    except asyncio.CancelledError as exc:
        # whoever keeps the cancel (the caller's future, a traceback IPython shows) must
        # not keep the job's frames: their locals hold the DataFusion stream, and the
        # query's tasks stop only when the last reference to it goes
        traceback.clear_frames(exc.__traceback__)
        raise
