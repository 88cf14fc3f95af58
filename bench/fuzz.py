"""Fuzz every socket of a real cluster with seeded, damaged messages and report.

    python bench/fuzz.py [--messages 10000] [--workers 2] [--seed 0]

Sends ``--messages`` damaged messages (see ``tests/cluster/fuzzing.py``) to the
coordinator's client socket, its worker socket and each worker's peer socket, then
checks that every process is alive, a query still answers right, and prints the
memory of all processes before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "cluster"))

from fuzzing import rss, targets  # noqa: E402

from sqlweave.cluster.localcluster import LocalCluster  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000, help="per socket")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    ns = parser.parse_args()
    with LocalCluster(workers=ns.workers, heartbeat_s=0.2) as c:
        e = c.client()
        e.register_arrow("nums", pa.table({"x": list(range(10_000))}))
        pids = c.pids()
        before = rss(pids)
        print("| socket | messages | replies | seconds |")
        print("|---|---|---|---|")
        for i, target in enumerate(targets(c)):
            t0 = time.perf_counter()
            replies = target.fuzz(ns.messages, ns.seed + i)
            seconds = time.perf_counter() - t0
            print(f"| {target.kind} {target.address} | {ns.messages} | {replies} | {seconds:.1f} |")
        alive = all(os.path.exists(f"/proc/{p}") for p in pids)
        right = e.execute("select sum(x) as s from nums").to_pylist() == [{"s": 49_995_000}]
        after = rss(pids)
    print()
    print("| processes alive | answer right | RSS before MB | RSS after MB |")
    print("|---|---|---|---|")
    print(f"| {alive} | {right} | {before / 2**20:.0f} | {after / 2**20:.0f} |")


if __name__ == "__main__":
    main()
