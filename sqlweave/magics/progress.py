"""A running cluster query's progress, shown in place in the cell and cleared by the result.

One output, made once the query has run :data:`SHOW_AFTER_S` and updated in place
(``display_id``) as progress arrives: fragments done, rows and bytes scanned so far, the
elapsed time. When the statement ends, :meth:`ProgressDisplay.close` empties it, so the
cell shows the result only and nothing is left to land in a later cell's output.

Not shown in a terminal IPython, which would print every update as a new line.

>>> text_line(Progress(1, 3, 10, 2_500_000, 20_000_000, 2.04))
'cluster: 1/3 fragments · 2,500,000 rows · 20.0 MB scanned · 2.0 s'
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from typing import Any

from ..engines.engine import Progress

#: queries shorter than this never show progress
SHOW_AFTER_S = 0.5


def _size(nbytes: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if nbytes < 1000 or unit == "GB":
            return f"{nbytes:,.0f} {unit}" if unit == "B" else f"{nbytes:,.1f} {unit}"
        nbytes /= 1000  # type: ignore[assignment]
    raise AssertionError("unreachable")


def text_line(p: Progress) -> str:
    """One line saying how far a query got."""
    parts = [f"cluster: {p.fragments_done}/{p.fragments_total} fragments"]
    if p.rows_scanned:
        parts.append(f"{p.rows_scanned:,} rows")
        if p.bytes_scanned:
            parts.append(f"{_size(p.bytes_scanned)} scanned")
    elif p.rows:
        parts.append(f"{p.rows:,} rows")
    parts.append(f"{p.elapsed_s:.1f} s")
    return " · ".join(parts)


class _View:
    """What one update displays (empty once the query is over)."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        p = self.progress
        if p is None:
            return {"text/plain": "", "text/html": ""}
        line = html.escape(text_line(p))
        bar = f'<progress value="{p.fragments_done}" max="{max(1, p.fragments_total)}"></progress>'
        return {
            "text/plain": text_line(p),
            "text/html": f'<div class="sqlweave-progress">{bar} <code>{line}</code></div>',
        }


def _updatable() -> bool:
    """Whether outputs can be updated in place here (a kernel, or a captured shell)."""
    try:
        from IPython import get_ipython
        from IPython.terminal.interactiveshell import TerminalInteractiveShell
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and not isinstance(shell, TerminalInteractiveShell)


class ProgressDisplay:
    """A progress callback for one statement (``Engine.execute(progress=...)``).

    Args:
        show_after_s: nothing is shown before the statement has run this long.
        display: ``IPython.display.display``-like (returns a handle with ``update``);
            the default shows outside terminals only.
        clock: seconds, for ``show_after_s``.
    """

    def __init__(
        self,
        show_after_s: float = SHOW_AFTER_S,
        display: Callable[..., Any] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.show_after_s = show_after_s
        self._display = display
        self._clock = clock
        self.started = clock()
        self._handle: Any = None
        self.latest: Progress | None = None

    def __call__(self, progress: Progress) -> None:
        self.latest = progress
        if self._handle is not None:
            self._handle.update(_View(progress))
            return
        if self._clock() - self.started < self.show_after_s:
            return
        show = self._display or _kernel_display()
        if show is not None:
            self._handle = show(_View(progress), display_id=True)

    def close(self) -> None:
        """The statement is over: empty the output (the result shows instead)."""
        if self._handle is not None:
            self._handle.update(_View(None))
            self._handle = None


def _kernel_display() -> Callable[..., Any] | None:
    if not _updatable():
        return None
    from IPython.display import display

    return display


def progress_display(show_after_s: float | None = None) -> ProgressDisplay:
    """A fresh progress display for one statement; call ``close()`` when it ends.

    ``show_after_s`` defaults to :data:`SHOW_AFTER_S`, read at each call.
    """
    return ProgressDisplay(SHOW_AFTER_S if show_after_s is None else show_after_s)
