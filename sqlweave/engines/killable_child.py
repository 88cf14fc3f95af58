"""The child process of :mod:`sqlweave.engines.killable`: runs one query per request.

Once started it writes :data:`~sqlweave.engines.killable.READY`. A request is one JSON line
on stdin (``sql``, ``settings``, ``tables`` as ``[name, path]`` pairs of Arrow IPC files,
and the ``result`` path to write); the answer is one JSON line on stdout: ``{"error": null, "ran": true}``, or DataFusion's message as ``error`` and whether
the query itself ran (``false``: the settings or tables could not be taken). Each request
gets a fresh DataFusion context, so nothing of one query stays for the next. The child ends
when its parent closes stdin, and (on Linux) when the thread that started it ends: the
kernel's main thread, which runs the embedded engine's queries.
"""

from __future__ import annotations

import ctypes
import json
import signal
import sys
from typing import Any

#: prctl option asking the kernel to signal this process when its parent ends
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux to kill this process when the process that started it ends (a kernel that
    is restarted mid-query must not leave its child computing)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the child still ends when stdin closes


def answer(request: dict[str, Any]) -> tuple[str | None, bool]:
    """Run one request: the error message (``None`` once the result is written) and whether
    the query itself ran (``False``: the settings or tables could not be taken).

    >>> import os, pyarrow as pa
    >>> table = pa.table({"x": [1, 2]})
    >>> with pa.OSFile("t.arrow", "wb") as f, pa.ipc.new_file(f, table.schema) as w:
    ...     w.write_table(table)
    >>> request = {"settings": [], "tables": [["t", "t.arrow"]], "result": "r.arrow"}
    >>> answer({**request, "sql": "SELECT sum(x) AS s FROM t"})
    (None, True)
    >>> pa.ipc.open_file("r.arrow").read_all().to_pylist()
    [{'s': 3}]
    >>> print(answer({**request, "sql": "SELECT nope FROM t"})[0])
    Schema error: No field named nope.
    Valid fields are t.x.
    >>> answer({**request, "settings": [["datafusion.no.such", "1"]], "sql": "SELECT 1"})[1]
    False
    >>> os.remove("t.arrow"), os.remove("r.arrow")
    (None, None)
    """
    import pyarrow as pa

    from .local import apply_settings, collect_table, ident, make_context

    try:
        ctx = make_context()
        apply_settings(ctx, [tuple(s) for s in request["settings"]])
        for name, path in request["tables"]:
            ctx.from_arrow(pa.ipc.open_file(pa.memory_map(path)).read_all(), name=ident(name))
    except Exception as exc:  # DataFusion raises plain Exception/ValueError
        return str(exc) or type(exc).__name__, False
    try:
        table = collect_table(ctx.sql(request["sql"]))
        with pa.OSFile(request["result"], "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table)
    except Exception as exc:
        return str(exc) or type(exc).__name__, True
    return None, True


def main() -> None:
    _die_with_parent()
    from . import local  # noqa: F401 - the engine's imports, before saying it is ready
    from .killable import READY

    sys.stdout.write(READY + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        error, ran = answer(json.loads(line))
        sys.stdout.write(json.dumps({"error": error, "ran": ran}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
