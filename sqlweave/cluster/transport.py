"""Values and Arrow data as ZeroMQ frames: the encoding under :mod:`.protocol`.

* Plain values (dataclasses, enums, bytes, tuples, dicts) become JSON, tagged with their
  class name so they come back as the same types; only registered classes
  (:func:`register_value`) are ever instantiated from a message.
* Arrow tables travel out of band: a schema frame, then one Arrow IPC frame per record
  batch. Sending needs no copy beyond IPC serialisation (``send_multipart(copy=False)``);
  receiving reads the batches in place from ``pa.py_buffer(frame.buffer)``.

>>> frames = table_frames(pa.table({"x": [1, 2]}))
>>> read_table(frames).to_pylist()
[{'x': 1}, {'x': 2}]
"""

from __future__ import annotations

import base64
import dataclasses
from enum import Enum
from typing import Any

import pyarrow as pa
import zmq


class ProtocolError(Exception):
    """A frame sequence that is not a valid message of this protocol version."""


_VALUES: dict[str, type] = {}


def register_value(cls: type) -> type:
    """Allow a dataclass or enum defined elsewhere (e.g. by the planner) inside messages."""
    _VALUES[cls.__name__] = cls
    return cls


def to_json(value: Any, arrow: list[pa.Table | pa.Schema] | None = None) -> Any:
    """A JSON-able form of ``value``; Arrow objects go to ``arrow`` and leave a reference.

    Dataclasses and enums are tagged with their class name so :func:`from_json`
    rebuilds the same types (only registered classes are ever instantiated).
    """
    if isinstance(value, Enum):
        return {"__enum": type(value).__name__, "v": value.value}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"__b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (pa.Table, pa.RecordBatch, pa.Schema)):
        if arrow is None:
            raise ProtocolError("Arrow data outside a message")
        arrow.append(value)
        kind = "__schema" if isinstance(value, pa.Schema) else "__arrow"
        return {kind: len(arrow) - 1}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {"__dc": type(value).__name__}
        for f in dataclasses.fields(value):
            out[f.name] = to_json(getattr(value, f.name), arrow)
        return out
    if isinstance(value, (list, tuple)):
        return [to_json(v, arrow) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: to_json(v, arrow) for k, v in value.items()}
        return {"__map": [[to_json(k, arrow), to_json(v, arrow)] for k, v in value.items()]}
    raise ProtocolError(f"cannot encode a {type(value).__name__}")


def from_json(value: Any, arrow: list[Any] | None = None) -> Any:
    """Inverse of :func:`to_json`; JSON lists come back as tuples (all our fields are tuples)."""
    if isinstance(value, list):
        return tuple(from_json(v, arrow) for v in value)
    if not isinstance(value, dict):
        return value
    if "__dc" in value:
        cls = _VALUES.get(value["__dc"])
        if cls is None or not dataclasses.is_dataclass(cls):
            raise ProtocolError(f"unknown value type {value['__dc']!r}")
        kwargs = {k: from_json(v, arrow) for k, v in value.items() if k != "__dc"}
        return cls(**kwargs)
    if "__enum" in value:
        cls = _VALUES.get(value["__enum"])
        if cls is None or not issubclass(cls, Enum):
            raise ProtocolError(f"unknown enum {value['__enum']!r}")
        return cls(value["v"])
    if "__b64" in value:
        return base64.b64decode(value["__b64"])
    if "__arrow" in value or "__schema" in value:
        index = value.get("__arrow", value.get("__schema"))
        if arrow is None or not isinstance(index, int) or not 0 <= index < len(arrow):
            raise ProtocolError("dangling Arrow reference")
        item = arrow[index]
        return item.schema if "__schema" in value else item
    if "__map" in value:
        return {from_json(k, arrow): from_json(v, arrow) for k, v in value["__map"]}
    return {k: from_json(v, arrow) for k, v in value.items()}


def _plain_types(table: pa.Table) -> pa.Table:
    """Dictionary columns need a dictionary memo per stream; send their values instead."""
    if not any(pa.types.is_dictionary(f.type) for f in table.schema):
        return table
    fields = [
        pa.field(f.name, f.type.value_type, f.nullable, f.metadata)
        if pa.types.is_dictionary(f.type)
        else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def table_frames(table: pa.Table | pa.RecordBatch | pa.Schema) -> list[pa.Buffer]:
    """Schema frame then one IPC frame per record batch (buffers, no copy of the data)."""
    if isinstance(table, pa.Schema):
        return [table.serialize()]
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    table = _plain_types(table)
    return [table.schema.serialize(), *(b.serialize() for b in table.to_batches() if b.num_rows)]


def frame_buffer(frame: Any) -> pa.Buffer:
    """A zero-copy Arrow view of a received frame (``zmq.Frame``, bytes or a buffer)."""
    if isinstance(frame, zmq.Frame):
        return pa.py_buffer(frame.buffer)
    return pa.py_buffer(frame)


def read_table(frames: list[Any]) -> pa.Table:
    """Inverse of :func:`table_frames`: the schema frame, then one frame per batch."""
    schema = pa.ipc.read_schema(frame_buffer(frames[0]))
    batches = [pa.ipc.read_record_batch(frame_buffer(f), schema) for f in frames[1:]]
    return pa.Table.from_batches(batches, schema=schema)
