"""A long cluster query in a real kernel shows its progress in place while it runs; the
result replaces it, and nothing of it reaches the next cell's output."""

from __future__ import annotations

import queue
import time
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel

pytestmark = pytest.mark.process

SETUP = """\
%load_ext sqlweave
%sqlweave cluster start --workers 2
import numpy as np, pyarrow as pa
big = pa.table({"a": np.arange(10_000_000, dtype=np.int64)})
"""
#: keeps every row while hashing each three times: seconds of work on two workers
LONG_CELL = (
    "%%sql\nSELECT count(*) AS n FROM big WHERE length(md5(md5(md5(CAST(a AS VARCHAR))))) = 32"
)
PROGRESS_PREFIX = "cluster: "


def _run(kc: Any, code: str, timeout_s: float) -> tuple[dict, list[dict]]:
    """Execute ``code``; its shell reply and every IOPub message until the kernel is idle
    again after it (messages of any parent: a late one from an earlier cell counts too)."""
    msg_id = kc.execute(code)
    seen: list[dict] = []
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no idle status after {code!r}")
        try:
            msg = kc.get_iopub_msg(timeout=left)
        except queue.Empty:
            continue
        seen.append(msg)
        if (
            msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
            and msg["parent_header"].get("msg_id") == msg_id
        ):
            break
    while True:
        reply = kc.get_shell_msg(timeout=timeout_s)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply, seen


def _plain(msg: dict) -> str:
    content = msg["content"]
    return str(content.get("text") or content.get("data", {}).get("text/plain", ""))


def test_progress_is_shown_in_place_and_cleared_by_the_result() -> None:
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        reply, _ = _run(kc, SETUP, 180)
        assert reply["content"]["status"] == "ok", reply["content"]
        reply, cell = _run(kc, LONG_CELL, 300)
        assert reply["content"]["status"] == "ok", reply["content"]

        shown = [m for m in cell if m["msg_type"] == "display_data"]
        assert len(shown) == 1, [m["msg_type"] for m in cell]  # one output, updated in place
        assert _plain(shown[0]).startswith(PROGRESS_PREFIX)
        display_id = shown[0]["content"]["transient"]["display_id"]
        updates = [m for m in cell if m["msg_type"] == "update_display_data"]
        assert all(m["content"]["transient"]["display_id"] == display_id for m in updates)
        assert any("rows" in _plain(m) for m in [*shown, *updates])  # rows scanned so far
        # the last word on that output empties it; the result is the cell's answer
        assert updates and _plain(updates[-1]) == ""
        assert updates[-1]["content"]["data"].get("text/html", "") == ""
        results = [m for m in cell if m["msg_type"] == "execute_result"]
        assert len(results) == 1 and "10000000" in _plain(results[0]).replace(",", "")
        assert cell.index(updates[-1]) < cell.index(results[0])
        assert not any(PROGRESS_PREFIX in _plain(m) for m in cell if m["msg_type"] == "stream")

        reply, after = _run(kc, "print('next cell')", 60)
        assert reply["content"]["status"] == "ok"
        outputs = [m for m in after if m["msg_type"] not in ("status", "execute_input")]
        assert [(m["msg_type"], _plain(m)) for m in outputs] == [("stream", "next cell\n")]
    finally:
        try:
            _run(kc, "%sqlweave cluster stop", 60)
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
