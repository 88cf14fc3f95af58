"""Helpers for tests and benches that drive a real kernel through jupyter_client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: clock ticks per second of /proc/<pid>/task/*/stat
_TICKS = 100


def native_cpu_ticks(pid: int, prefix: str = "tokio-rt") -> int:
    """CPU ticks used so far by the threads of ``pid`` whose name starts with ``prefix``
    (DataFusion's runtime threads are ``tokio-rt-worker``)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if not (task / "comm").read_text().startswith(prefix):
                continue
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        total += int(fields[11]) + int(fields[12])
    return total


def reply_to(kc: Any, msg_id: str, timeout_s: float) -> dict:
    """The execute_reply to ``msg_id`` (earlier replies are skipped)."""
    while True:
        reply = kc.get_shell_msg(timeout=timeout_s)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply


def answer(kc: Any, code: str, expression: str, timeout_s: float = 120) -> str:
    """Run ``code`` in the kernel, then ``expression``; its ``text/plain`` value.

    The answer is read from the shell reply, which (unlike IOPub, a PUB socket) the kernel
    never drops.
    """
    msg_id = kc.execute(code, user_expressions={"v": expression})
    content = reply_to(kc, msg_id, timeout_s)["content"]
    assert content["status"] == "ok", content
    return content["user_expressions"]["v"]["data"]["text/plain"]
