"""Arrow table transfer over ZeroMQ between two processes vs a local memory copy.

    .venv/bin/python bench/transport.py [--mb 256] [--batch-rows 65536,1048576] [--repeat 5]

Methods:

* ``memcpy``: numpy copy of every buffer in this process, into reused memory (the
  physical ceiling) and into new allocations (what a receiver pays in page faults);
* ``ipc-serialize``: ``batch.serialize()`` + ``pa.ipc.read_record_batch`` in process
  (the one copy our protocol pays on the sender);
* ``protocol tcp|ipc``: :mod:`sqlweave.cluster.protocol` as the cluster uses it: a
  ``StoreTable`` message, header + schema + one IPC frame per record batch,
  ``send_multipart(copy=False)``, zero-copy receive (``recv_multipart(copy=False)``,
  ``pa.py_buffer(frame.buffer)``);
* ``raw-buffers tcp|ipc``: each Arrow buffer as its own frame, no IPC serialisation at
  all; the receiver rebuilds arrays with ``pa.Array.from_buffers`` (zero copy on both
  ends in user space; only the kernel copies).

Time is from the first send to the receiver holding the table (it then acks).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlweave.cluster import protocol as P


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


def nbytes(table: pa.Table) -> int:
    return sum(b.size for batch in table.to_batches() for b in _buffers(batch) if b is not None)


def _buffers(batch: pa.RecordBatch) -> list[pa.Buffer | None]:
    return [buf for col in batch.columns for buf in col.buffers()]


# ----- raw buffer framing (the bench's zero-serialisation variant) ----------------------


def raw_frames(table: pa.Table) -> list[object]:
    layout = []
    frames: list[object] = []
    for batch in table.to_batches():
        cols = []
        for col in batch.columns:
            bufs = col.buffers()
            cols.append([col.offset, len(col), col.null_count, [b is not None for b in bufs]])
            frames.extend(b for b in bufs if b is not None)
        layout.append([batch.num_rows, cols])
    header = {"schema": table.schema.serialize().to_pybytes().hex(), "layout": layout}
    return [json.dumps(header).encode(), *frames]


def raw_table(frames: list[zmq.Frame]) -> pa.Table:
    header = json.loads(bytes(frames[0].buffer))
    schema = pa.ipc.read_schema(pa.py_buffer(bytes.fromhex(header["schema"])))
    pos = 1
    batches = []
    for _rows, cols in header["layout"]:
        arrays = []
        for field, (offset, length, nulls, present) in zip(schema, cols):
            bufs = []
            for has in present:
                if has:
                    bufs.append(pa.py_buffer(frames[pos].buffer))
                    pos += 1
                else:
                    bufs.append(None)
            arrays.append(pa.Array.from_buffers(field.type, length, bufs, nulls, offset))
        batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
    return pa.Table.from_batches(batches, schema=schema)


# ----- the receiving process -------------------------------------------------------------


def receiver(address: str, ack_address: str, method: str, repeat: int) -> None:
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.rcvbuf = 8 * 2**20
    pull.bind(address)
    ack = ctx.socket(zmq.PUSH)
    ack.connect(ack_address)
    ack.send(b"ready")
    for _ in range(repeat):
        frames = pull.recv_multipart(copy=False)
        if method == "protocol":
            table = P.decode(frames).table
        else:
            table = raw_table(frames)
        ack.send(str(table.num_rows).encode())
        del table, frames
    ctx.destroy(linger=1000)


def transfer(table: pa.Table, transport: str, method: str, repeat: int) -> float:
    """Best seconds over ``repeat`` transfers of ``table`` to another process."""
    tmp = tempfile.mkdtemp(prefix="sw-bench-")
    if transport == "tcp":
        ctx0 = zmq.Context()
        probe = ctx0.socket(zmq.PULL)
        port = probe.bind_to_random_port("tcp://127.0.0.1")
        probe.close()
        ctx0.term()
        address = f"tcp://127.0.0.1:{port}"
    else:
        address = f"ipc://{tmp}/data"
    ack_address = f"ipc://{tmp}/ack"
    ctx = zmq.Context()
    acks = ctx.socket(zmq.PULL)
    acks.bind(ack_address)
    proc = mp.get_context("spawn").Process(
        target=receiver, args=(address, ack_address, method, repeat)
    )
    proc.start()
    assert acks.recv() == b"ready"
    push = ctx.socket(zmq.PUSH)
    push.sndbuf = 8 * 2**20
    push.connect(address)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        if method == "protocol":
            P.send(push, P.StoreTable("h", table))
        else:
            push.send_multipart(raw_frames(table), copy=False)
        rows = int(acks.recv())
        best = min(best, time.perf_counter() - started)
        assert rows == table.num_rows
    proc.join(30)
    ctx.destroy(linger=0)
    return best


def local_copy(table: pa.Table, repeat: int, fresh: bool) -> float:
    """Copy every buffer: into new allocations (``fresh``, pays page faults) or reused ones."""
    arrays = [
        np.frombuffer(b, dtype=np.uint8)
        for batch in table.to_batches()
        for b in _buffers(batch)
        if b is not None
    ]
    targets = [np.empty_like(a) for a in arrays]
    for t, a in zip(targets, arrays):
        np.copyto(t, a)  # touch every page once
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        if fresh:
            copies = [a.copy() for a in arrays]
        else:
            for t, a in zip(targets, arrays):
                np.copyto(t, a)
        best = min(best, time.perf_counter() - started)
        if fresh:
            del copies
    return best


def ipc_roundtrip(table: pa.Table, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        bufs = [b.serialize() for b in table.to_batches()]
        out = [pa.ipc.read_record_batch(buf, table.schema) for buf in bufs]
        best = min(best, time.perf_counter() - started)
        del bufs, out
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=256, help="table size in MiB")
    parser.add_argument(
        "--batch-rows", default="8192,65536,262144,1048576", help="rows per record batch"
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--methods", default="memcpy,ipc-serialize,protocol,raw-buffers")
    parser.add_argument(
        "--fresh-pages",
        action="store_true",
        help="leave glibc malloc alone (by default the receiver reuses freed heap pages "
        "instead of mmap-ing fresh ones for each large ZeroMQ frame: fewer page faults)",
    )
    ns = parser.parse_args(argv)
    if not ns.fresh_pages:
        # inherited by the spawned receiver; glibc reads these at process start
        os.environ["MALLOC_MMAP_THRESHOLD_"] = str(32 * 2**20)
        os.environ["MALLOC_TRIM_THRESHOLD_"] = str(4 * 2**30)
        os.environ["MALLOC_TOP_PAD_"] = str(512 * 2**20)
    methods = ns.methods.split(",")
    print(
        f"pyarrow {pa.__version__}, pyzmq {zmq.__version__}, libzmq {zmq.zmq_version()}, "
        f"{os.cpu_count()} cpus; best of {ns.repeat}"
    )
    print(f"{'method':<22} {'batch rows':>10} {'batches':>7} {'MB':>7} {'seconds':>8} {'GB/s':>6}")
    for batch_rows in [int(x) for x in ns.batch_rows.split(",")]:
        table = make_table(ns.mb, batch_rows)
        size = nbytes(table)
        runs: list[tuple[str, float]] = []
        if "memcpy" in methods:
            runs.append(("memcpy into reused", local_copy(table, ns.repeat, fresh=False)))
            runs.append(("memcpy into new", local_copy(table, ns.repeat, fresh=True)))
        if "ipc-serialize" in methods:
            runs.append(("ipc-serialize (1 proc)", ipc_roundtrip(table, ns.repeat)))
        for method in ("protocol", "raw-buffers"):
            if method in methods:
                for transport in ("tcp", "ipc"):
                    secs = transfer(table, transport, method, ns.repeat)
                    runs.append((f"{method} {transport}", secs))
        for name, secs in runs:
            print(
                f"{name:<22} {batch_rows:>10} {table.column(0).num_chunks:>7} "
                f"{size / 1e6:>7.0f} {secs:>8.4f} {size / secs / 1e9:>6.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
