"""What the JupyterLab extension shows, as plain JSON messages (no IPython here).

The messages are defined once, in ``schema.json`` beside this module; the TypeScript side
(``labextension/src/contract.ts``) mirrors it and both are tested against it. The comm that
carries them is the IPython face's business (:mod:`sqlweave.magics.lab`).
"""

from __future__ import annotations

from .messages import (
    COMM_TARGET,
    PROTOCOL_VERSION,
    SCHEMA_PATH,
    MessageType,
    Scope,
    TableSource,
    error_message,
    graph_message,
    parse_request,
    schema_message,
)

__all__ = [
    "COMM_TARGET",
    "PROTOCOL_VERSION",
    "SCHEMA_PATH",
    "MessageType",
    "Scope",
    "TableSource",
    "error_message",
    "graph_message",
    "parse_request",
    "schema_message",
]
