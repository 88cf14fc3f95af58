"""The cluster's resource bounds: message sizes, worker memory, how long work may wait.

One place for every limit, each overridable by an environment variable so an
operator can raise it without code changes.

>>> parse_bytes("512M"), parse_bytes("2g"), parse_bytes("1000")
(536870912, 2147483648, 1000)
"""

from __future__ import annotations

import os
import re

import zmq

from ..errors import UsageError

#: largest frame (one Arrow buffer, or a message header) any socket accepts; a peer that
#: sends a bigger one is disconnected by ZeroMQ before the frame is buffered
MAX_FRAME_BYTES = int(os.environ.get("SQLWEAVE_MAX_FRAME_BYTES", 1 << 30))
#: largest message header (JSON: the SQL text, a plan fragment)
MAX_HEADER_BYTES = 64 << 20
#: most frames one message may have (a table with this many buffers is absurd)
MAX_FRAMES = 1 << 20
#: how long the coordinator lets a registration (format detection, file listing) run
REGISTER_TIMEOUT_S = float(os.environ.get("SQLWEAVE_REGISTER_TIMEOUT", 30.0))
#: how long a worker keeps shuffle data of a query it has heard nothing else about
ORPHAN_EXCHANGE_TTL_S = 120.0
#: finished or cancelled queries a worker remembers, to drop their late shuffle data
REMEMBERED_QUERIES = 10_000
#: bytes of shuffle data a worker may hold for running queries (see :mod:`.exchange_buffer`)
EXCHANGE_BYTES_ENV = "SQLWEAVE_EXCHANGE_BYTES"
#: environment default of a worker's memory pool (``--memory-limit``)
WORKER_MEMORY_ENV = "SQLWEAVE_WORKER_MEMORY"

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.I)


def parse_bytes(text: str) -> int:
    """``"512M"``, ``"2G"``, ``"1.5g"``, ``"1000"`` as a number of bytes (binary units)."""
    m = _SIZE.match(str(text))
    if not m:
        raise UsageError(f"not a size: {text!r} (use e.g. 512M or 2G)")
    scale = 1 << (10 * " kmgt".index(m.group(2).lower() or " "))
    return int(float(m.group(1)) * scale)


def bound_inbound(sock: zmq.Socket) -> zmq.Socket:
    """Cap the size of each frame ``sock`` accepts at :data:`MAX_FRAME_BYTES`."""
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME_BYTES)
    return sock


def memory_error(exc: BaseException, limit_bytes: int | None) -> str | None:
    """A readable "query exceeded memory" message when ``exc`` is DataFusion running out."""
    text = str(exc)
    if "Resources exhausted" not in text:
        return None
    detail = text.split("Resources exhausted:", 1)[-1].strip().splitlines()[0]
    limit = f" of {limit_bytes / 2**20:.0f} MiB" if limit_bytes else ""
    return (
        f"query exceeded memory: the worker's limit{limit} was reached after spilling what "
        f"DataFusion can spill (resources exhausted: {detail}); raise --memory-limit or "
        f"${WORKER_MEMORY_ENV}, or use more workers"
    )
