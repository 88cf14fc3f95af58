"""A cancel token: one party asks work to stop, the parties doing it hear of it at once.

The pipeline runner hands one token to every notebook it runs; Ctrl-C cancels it, which
interrupts the running kernels (:func:`sqlweave.runner.run_notebook`), and a second Ctrl-C
forces it, which kills them.

Safe to cancel from a signal handler: callbacks run in the cancelling thread and must be
quick (send a signal, start a timer), and the lock is re-entrant, so a signal arriving
while the main thread holds it cannot deadlock.

>>> token = Cancel()
>>> heard = []
>>> forget = token.on_cancel(heard.append)
>>> token.cancel(); token.force(); token.cancelled, heard
(True, [False, True])
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

#: what a callback is given: False when asked to stop, True when told to stop now
Callback = Callable[[bool], None]


class Cancel:
    """Set once by whoever stops the work; read and waited on by the workers."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._event = threading.Event()
        self._forced = False
        self._callbacks: list[Callback] = []
        #: the signal that cancelled, if one did (the exit code is 128 + its number)
        self.signal: int | None = None

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    @property
    def forced(self) -> bool:
        return self._forced

    def cancel(self, signum: int | None = None) -> None:
        """Ask the work to stop (idempotent)."""
        with self._lock:
            if self._event.is_set():
                return
            self.signal = signum
            self._event.set()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback(False)

    def force(self) -> None:
        """Tell the work to stop now (cancels first if need be)."""
        self.cancel()
        with self._lock:
            if self._forced:
                return
            self._forced = True
            callbacks = list(self._callbacks)
        for callback in callbacks:
            callback(True)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until cancelled or ``timeout`` passes; True when cancelled."""
        return self._event.wait(timeout)

    def on_cancel(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback`` on cancel (at once if already cancelled); returns its remover."""
        with self._lock:
            self._callbacks.append(callback)
            cancelled, forced = self._event.is_set(), self._forced
        if cancelled:
            callback(False)
        if forced:
            callback(True)

        def forget() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return forget

    @property
    def exit_code(self) -> int:
        """The shell's code for a process stopped by the signal: 130 for Ctrl-C."""
        return 128 + (self.signal or signal.SIGINT)
