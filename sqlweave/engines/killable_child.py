"""The child process of :mod:`sqlweave.engines.killable`: runs one query per request.

A request is one JSON line on stdin (``sql``, ``settings``, ``tables`` as ``[name, path]``
pairs of Arrow IPC files, and the ``result`` path to write); the answer is one JSON line on
stdout, ``{"error": null}`` or ``{"error": "<DataFusion's message>"}``. Each request gets a
fresh DataFusion context, so nothing of one query stays for the next. The child ends when
its parent closes stdin, and (on Linux) when its parent dies.
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


def answer(request: dict[str, Any]) -> str | None:
    """Run one request; ``None`` when the result was written, else the error message.

    >>> import os, pyarrow as pa
    >>> table = pa.table({"x": [1, 2]})
    >>> with pa.OSFile("t.arrow", "wb") as f, pa.ipc.new_file(f, table.schema) as w:
    ...     w.write_table(table)
    >>> request = {"settings": [], "tables": [["t", "t.arrow"]], "result": "r.arrow"}
    >>> answer({**request, "sql": "SELECT sum(x) AS s FROM t"}) is None
    True
    >>> pa.ipc.open_file("r.arrow").read_all().to_pylist()
    [{'s': 3}]
    >>> print(answer({**request, "sql": "SELECT nope FROM t"}))
    Schema error: No field named nope.
    Valid fields are t.x.
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
        table = collect_table(ctx.sql(request["sql"]))
        with pa.OSFile(request["result"], "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table)
    except Exception as exc:  # DataFusion raises plain Exception/ValueError
        return str(exc) or type(exc).__name__
    return None


def main() -> None:
    _die_with_parent()
    for line in sys.stdin:
        error = answer(json.loads(line))
        sys.stdout.write(json.dumps({"error": error}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
