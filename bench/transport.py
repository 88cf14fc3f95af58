"""Arrow table transfer over ZeroMQ between two processes vs a local memory copy.

    .venv/bin/python bench/transport.py [--mb 256] [--batch-rows 65536,1048576] [--repeat 7]

Rows:

* ``memcpy``: numpy copy of every buffer in this process, into reused memory (the
  physical ceiling) and into new allocations (what a receiver pays in page faults);
* ``protocol tcp|ipc``: :mod:`sqlweave.cluster.protocol` exactly as the cluster uses it:
  ``P.send(sock, StoreTable(...))`` (a header frame, a layout frame, then every Arrow
  buffer as a frame of its own, ``send_multipart(copy=False)``) and ``P.decode`` of
  ``recv_multipart(copy=False)`` on the other side (``pa.Array.from_buffers`` over the
  frames, zero copy unless a buffer is misaligned for its type);
* ``ipc-frames tcp|ipc``: for comparison, protocol version 1's framing: one
  ``batch.serialize()`` Arrow IPC frame per record batch, ``pa.ipc.read_record_batch``.

Time is from the first send to the receiver holding the table (it then acks); every
row is the median of ``--repeat`` transfers (the best one is shown too). Socket options
(``--sndbuf``, ``--rcvbuf``, ``--io-threads``, ``--hwm``, ``--copy-threshold``) let the
same run compare ZeroMQ settings.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlweave.cluster import protocol as P
from sqlweave.cluster import transport as T

TARGET_GBPS = 6.0


@dataclass(frozen=True)
class Options:
    """ZeroMQ settings applied to both ends (``-1``/``0`` leave libzmq's defaults)."""

    sndbuf: int = -1
    rcvbuf: int = -1
    io_threads: int = 1
    hwm: int = 0
    copy_threshold: int = zmq.COPY_THRESHOLD

    def context(self) -> zmq.Context:
        zmq.COPY_THRESHOLD = self.copy_threshold
        return zmq.Context(io_threads=self.io_threads)

    def apply(self, sock: zmq.Socket) -> None:
        if self.sndbuf >= 0:
            sock.sndbuf = self.sndbuf
        if self.rcvbuf >= 0:
            sock.rcvbuf = self.rcvbuf
        if self.hwm:
            sock.sndhwm = sock.rcvhwm = self.hwm


def make_table(mb: int, batch_rows: int) -> pa.Table:
    rows = mb * 2**20 // 32
    rng = np.random.default_rng(0)
    data = {
        "a": np.arange(rows, dtype=np.int64),
        "b": rng.random(rows),
        "c": rng.integers(0, 1 << 40, rows),
        "d": rng.random(rows),
    }
    # independent batches (not slices of one big buffer) like DataFusion's output
    batches = [
        pa.record_batch({k: v[lo : lo + batch_rows] for k, v in data.items()})
        for lo in range(0, rows, batch_rows)
    ]
    return pa.Table.from_batches(batches)


def _buffers(table: pa.Table) -> list[pa.Buffer]:
    return [
        buf
        for batch in table.to_batches()
        for col in batch.columns
        for buf in col.buffers()
        if buf is not None
    ]


def nbytes(table: pa.Table) -> int:
    return sum(b.size for b in _buffers(table))


# ----- protocol version 1's framing, for comparison ------------------------------------


def ipc_frames(table: pa.Table) -> list[pa.Buffer]:
    return [table.schema.serialize(), *(b.serialize() for b in table.to_batches())]


def ipc_table(frames: list[zmq.Frame]) -> pa.Table:
    schema = pa.ipc.read_schema(pa.py_buffer(frames[0].buffer))
    batches = [pa.ipc.read_record_batch(pa.py_buffer(f.buffer), schema) for f in frames[1:]]
    return pa.Table.from_batches(batches, schema=schema)


# ----- the two processes ----------------------------------------------------------------


def receiver(
    address: str, ack_address: str, method: str, repeat: int, opts: Options, fresh: bool
) -> None:
    if not fresh:
        assert T.keep_freed_memory()
    ctx = opts.context()
    pull = ctx.socket(zmq.PULL)
    opts.apply(pull)
    pull.bind(address)
    ack = ctx.socket(zmq.PUSH)
    ack.connect(ack_address)
    ack.send(b"ready")
    for _ in range(repeat):
        frames = pull.recv_multipart(copy=False)
        table = P.decode(frames).table if method == "protocol" else ipc_table(frames)
        ack.send(str(table.num_rows).encode())
        del table, frames
    ctx.destroy(linger=1000)


def _address(transport: str, tmp: str) -> str:
    if transport == "ipc":
        return f"ipc://{tmp}/data"
    ctx = zmq.Context()
    probe = ctx.socket(zmq.PULL)
    port = probe.bind_to_random_port("tcp://127.0.0.1")
    probe.close()
    ctx.term()
    return f"tcp://127.0.0.1:{port}"


def transfer(
    table: pa.Table, transport: str, method: str, repeat: int, opts: Options, fresh: bool
) -> list[float]:
    """Seconds of each of ``repeat`` transfers of ``table`` to another process."""
    tmp = tempfile.mkdtemp(prefix="sw-bench-")
    address = _address(transport, tmp)
    ack_address = f"ipc://{tmp}/ack"
    ctx = opts.context()
    acks = ctx.socket(zmq.PULL)
    acks.bind(ack_address)
    proc = mp.get_context("spawn").Process(
        target=receiver, args=(address, ack_address, method, repeat, opts, fresh)
    )
    proc.start()
    assert acks.recv() == b"ready"
    push = ctx.socket(zmq.PUSH)
    opts.apply(push)
    push.connect(address)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        if method == "protocol":
            P.send(push, P.StoreTable("h", table))
        else:
            push.send_multipart(ipc_frames(table), copy=False)
        rows = int(acks.recv())
        times.append(time.perf_counter() - started)
        assert rows == table.num_rows
    proc.join(30)
    ctx.destroy(linger=0)
    return times


def local_copy(table: pa.Table, repeat: int, fresh: bool) -> list[float]:
    """Copy every buffer: into new allocations (``fresh``, pays page faults) or reused ones."""
    arrays = [np.frombuffer(b, dtype=np.uint8) for b in _buffers(table)]
    targets = [np.empty_like(a) for a in arrays]
    for t, a in zip(targets, arrays):
        np.copyto(t, a)  # touch every page once
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        if fresh:
            copies = [a.copy() for a in arrays]
        else:
            for t, a in zip(targets, arrays):
                np.copyto(t, a)
        times.append(time.perf_counter() - started)
        if fresh:
            del copies
    return times


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=256, help="table size in MiB")
    parser.add_argument("--batch-rows", default="65536,1048576", help="rows per record batch")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--methods", default="memcpy,protocol,ipc-frames")
    parser.add_argument("--transports", default="tcp,ipc")
    parser.add_argument("--sndbuf", type=int, default=-1, help="ZMQ_SNDBUF bytes (-1: OS)")
    parser.add_argument("--rcvbuf", type=int, default=-1, help="ZMQ_RCVBUF bytes (-1: OS)")
    parser.add_argument("--io-threads", type=int, default=1, help="zmq.Context io_threads")
    parser.add_argument("--hwm", type=int, default=0, help="SNDHWM/RCVHWM (0: default)")
    parser.add_argument(
        "--copy-threshold", type=int, default=zmq.COPY_THRESHOLD, help="zmq.COPY_THRESHOLD"
    )
    parser.add_argument(
        "--fresh-pages",
        action="store_true",
        help="leave glibc malloc alone in the receiver (by default it calls "
        "transport.keep_freed_memory(): freed heap pages are reused for the next large "
        "ZeroMQ frame instead of mapping fresh ones, far fewer page faults)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    ns = _parse(argv)
    opts = Options(ns.sndbuf, ns.rcvbuf, ns.io_threads, ns.hwm, ns.copy_threshold)
    methods = ns.methods.split(",")
    print(
        f"pyarrow {pa.__version__}, pyzmq {zmq.__version__}, libzmq {zmq.zmq_version()}, "
        f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}; median of {ns.repeat}; {opts}"
    )
    print(
        f"{'method':<20} {'batch rows':>10} {'batches':>7} {'MB':>5} "
        f"{'median s':>9} {'GB/s':>6} {'best GB/s':>9}"
    )
    best: dict[str, float] = {}
    for batch_rows in [int(x) for x in ns.batch_rows.split(",")]:
        table = make_table(ns.mb, batch_rows)
        size = nbytes(table)
        runs: list[tuple[str, list[float]]] = []
        if "memcpy" in methods:
            runs.append(("memcpy into reused", local_copy(table, ns.repeat, fresh=False)))
            runs.append(("memcpy into new", local_copy(table, ns.repeat, fresh=True)))
        for method in ("protocol", "ipc-frames"):
            if method in methods:
                for transport in ns.transports.split(","):
                    times = transfer(table, transport, method, ns.repeat, opts, ns.fresh_pages)
                    runs.append((f"{method} {transport}", times))
        for name, times in runs:
            rate = size / statistics.median(times) / 1e9
            if name.startswith("protocol"):
                best[name] = max(best.get(name, 0.0), rate)
            print(
                f"{name:<20} {batch_rows:>10} {table.column(0).num_chunks:>7} "
                f"{size / 1e6:>5.0f} {statistics.median(times):>9.4f} {rate:>6.2f} "
                f"{size / min(times) / 1e9:>9.2f}",
                flush=True,
            )
    for name, rate in best.items():
        verdict = "meets" if rate >= TARGET_GBPS else "misses"
        print(
            f"verdict: {name} {rate:.2f} GB/s (best median) {verdict} the {TARGET_GBPS} GB/s target"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
