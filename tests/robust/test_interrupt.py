"""Interrupting a real kernel stops a long embedded DataFusion query: the cell ends with
"query cancelled" and the kernel stays usable. The interrupt goes to the kernel's process
only, never to pytest's."""

from __future__ import annotations

import pytest
from jupyter_client.manager import start_new_kernel
from waiting import wait_for

from .kernels import native_cpu_ticks, reply_to

pytestmark = pytest.mark.process

#: a hash join whose build side alone takes minutes on this machine
HASH_JOIN_BUILD = (
    "SELECT count(*) FROM generate_series(1, 300000000) a(x)"
    " JOIN generate_series(1, 300000000) b(y) ON a.x = b.y"
)


def test_interrupt_stops_an_embedded_hash_join_build_and_the_kernel_lives() -> None:
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        kc.execute_interactive("%load_ext sqlweave\n%sql SELECT 1", timeout=120)
        pid = km.provisioner.pid
        before = native_cpu_ticks(pid)
        msg_id = kc.execute(f"%sql {HASH_JOIN_BUILD}")
        # the join is under way once DataFusion's threads have worked a quarter second
        wait_for(lambda: native_cpu_ticks(pid) - before > 25, 120, "the join to run")
        km.interrupt_kernel()
        reply = reply_to(kc, msg_id, 120)["content"]
        assert reply["status"] == "error"
        assert (reply["ename"], reply["evalue"]) == ("QueryCancelled", "query cancelled")
        assert km.is_alive()
        # the answer is read from the shell reply, which (unlike IOPub, a PUB socket) the
        # kernel never drops
        again = kc.execute(
            "_r = %sql SELECT 7 AS seven",
            user_expressions={"v": "_r.to_arrow().to_pylist()"},
        )
        content = reply_to(kc, again, 120)["content"]
        assert content["status"] == "ok", content
        assert content["user_expressions"]["v"]["data"]["text/plain"] == "[{'seven': 7}]"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
