"""A process that used embedded DataFusion exits with status 0, also right after a query
and right after an interrupted one.

Before the engine thread's exit hook, about one such process in four died of SIGABRT or
SIGSEGV at interpreter exit on a busy 2-core machine (a DataFusion runtime thread still
handing a result to Python while the interpreter finalized), so the plain case runs in 16
processes, four at once: at that rate, 16 clean exits by chance are about 1 in 100. The
interrupted case is the exit hook's other half (a cancelled step DataFusion has yet to
hand back).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]
AT_ONCE = 4

QUERY_THEN_EXIT = """
import pyarrow as pa
import sqlweave

s = sqlweave.Session()
s.register("t", pa.table({"x": list(range(1000))}))
assert s.sql("SELECT sum(x) AS s FROM t").to_arrow().to_pylist() == [{"s": 499500}]
s.sql("SELECT count(*) FROM generate_series(1, 100000)")
s.sql("SELECT 1")
"""

# interrupted the way a kernel is (SIGINT to the process) once DataFusion's runtime threads
# have started on a hash join whose build alone takes minutes
INTERRUPTED_THEN_EXIT = """
import os, signal, threading, time
from pathlib import Path
import sqlweave

def tokio_ticks():
    total = 0
    for task in Path("/proc/self/task").iterdir():
        try:
            if (task / "comm").read_text().startswith("tokio-rt"):
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total

def interrupt_once_running():
    while tokio_ticks() < 5:
        time.sleep(0.01)
    os.kill(os.getpid(), signal.SIGINT)

s = sqlweave.Session()
threading.Thread(target=interrupt_once_running, daemon=True).start()
try:
    s.sql(
        "SELECT count(*) FROM generate_series(1, 300000000) a(x)"
        " JOIN generate_series(1, 300000000) b(y) ON a.x = b.y"
    )
except sqlweave.QueryCancelled:
    print("cancelled")
else:
    raise AssertionError("the query was not interrupted")
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "faulthandler", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=180,
        check=False,
    )


@pytest.mark.parametrize(
    ("code", "children"),
    [(QUERY_THEN_EXIT, 16), (INTERRUPTED_THEN_EXIT, 4)],
    ids=["after-query", "after-interrupt"],
)
def test_every_process_that_used_datafusion_exits_cleanly(code: str, children: int) -> None:
    with ThreadPoolExecutor(AT_ONCE) as pool:
        done = list(pool.map(_run, [code] * children))
    failed = [(p.returncode, p.stderr[-2000:]) for p in done if p.returncode != 0]
    assert not failed, f"{len(failed)} of {children} exits failed; first: {failed[0]}"
