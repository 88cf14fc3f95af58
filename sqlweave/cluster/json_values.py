"""Plain values inside messages as JSON, tagged with their class so they come back as the same types.

Dataclasses, enums, bytes, tuples and dicts with non-string keys become JSON objects with a
tag (``__dc``, ``__enum``, ``__b64``, ``__map``); Arrow tables and schemas become a
reference (``__arrow``, ``__schema``) into the list of tables that travel in frames of their
own (:mod:`.transport`). Only registered classes (:func:`register_value`) are ever
instantiated from a message: anything else is a :class:`~.transport.ProtocolError`.

>>> from sqlweave.cluster.protocol import ErrorKind
>>> to_json({"kind": ErrorKind.PLAN, "ids": (1, 2)})
{'kind': {'__enum': 'ErrorKind', 'v': 'plan'}, 'ids': [1, 2]}
>>> from_json(to_json({"kind": ErrorKind.PLAN, "ids": (1, 2)}))
{'kind': <ErrorKind.PLAN: 'plan'>, 'ids': (1, 2)}
"""

from __future__ import annotations

import base64
import dataclasses
from enum import Enum
from typing import Any

import pyarrow as pa

from .transport import ProtocolError

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
