"""The kernel end of the JupyterLab extension: a comm target that pushes lineage and schema.

``%load_ext sqlweave`` registers the ``sqlweave.lab`` comm target when it runs in a kernel
(plain IPython has no comms and skips it), and opens one comm to the frontend itself: a
comm_open from the frontend is a shell message and would wait behind every cell of a "Run
All", while one from the kernel goes out on IOPub and the panel adopts it at once. The
panel also opens comms itself (sqlweave loaded before the panel, restarts); after every
cell the bridge sends the notebook's lineage graph and the session's tables, but only what
changed since the last send, so the panel updates as soon as a cell finishes and never
has to poll a busy kernel.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from .. import errors
from ..lab import COMM_TARGET, Scope, error_message, graph_message, parse_request, schema_message

log = logging.getLogger(__name__)


@dataclass
class _Peer:
    """One open comm (one Lab panel looking at this kernel) and what it was sent last."""

    comm: Any
    scope: Scope = Scope.NOTEBOOK
    sent: dict[str, str] = field(default_factory=dict)  # message type -> last JSON sent


class LabBridge:
    """Serves the ``sqlweave.lab`` comm target of one kernel.

    Args:
        shell: the kernel's InteractiveShell.
        session: the :class:`sqlweave.Session` whose tables the schema browser lists.
        lineage: the :class:`~sqlweave.magics.lineage.LineageMagics` (its graph and notebook).
    """

    def __init__(self, shell: Any, session: Any, lineage: Any) -> None:
        self.shell = shell
        self.session = session
        self.lineage = lineage
        self.peers: dict[str, _Peer] = {}

    # ----- comm target ---------------------------------------------------------------------
    def open(self, comm: Any, open_msg: dict[str, Any]) -> None:
        """A panel connected: remember it and send it everything."""
        peer = _Peer(comm)
        data = (open_msg.get("content") or {}).get("data") or {}
        with contextlib.suppress(errors.UsageError):
            peer.scope = parse_request(data)
        self._adopt(peer)

    def open_from_kernel(self) -> None:
        """Open a comm to the frontend now, unless a panel is connected already.

        A frontend without the extension has no such target and closes it; then it is
        forgotten like any closed comm.
        """
        if self.peers:
            return
        try:
            import comm as comm_package

            comm = comm_package.create_comm(target_name=COMM_TARGET, data={})
        except Exception:  # no frontend to talk to: the panel connects itself later
            log.debug("sqlweave lab: opening the comm from the kernel failed", exc_info=True)
            return
        self._adopt(_Peer(comm))

    def _adopt(self, peer: _Peer) -> None:
        comm = peer.comm
        self.peers[comm.comm_id] = peer
        comm.on_msg(lambda msg: self._on_msg(peer, msg))
        comm.on_close(lambda msg: self.peers.pop(comm.comm_id, None))
        self.push(only=peer)

    def _on_msg(self, peer: _Peer, msg: dict[str, Any]) -> None:
        try:
            peer.scope = parse_request((msg.get("content") or {}).get("data"))
        except errors.UsageError as exc:
            peer.comm.send(error_message(str(exc)))
            return
        peer.sent.clear()  # asked again: send even what did not change
        self.push(only=peer)

    # ----- IPython event -------------------------------------------------------------------
    def post_run_cell(self, result: Any = None) -> None:
        if self.peers:
            self.push()

    def push(self, only: _Peer | None = None) -> None:
        """Send every peer (or ``only``) the messages that changed since its last send."""
        peers = [only] if only is not None else list(self.peers.values())
        try:
            notebook = self.lineage.tracker.notebook()
            by_scope = {
                scope: graph_message(
                    self.lineage.notebook_graph(folder=scope is Scope.FOLDER),
                    notebook=notebook,
                    scope=scope,
                )
                for scope in {p.scope for p in peers}
            }
            schema = schema_message(self.session, getattr(self.shell, "user_ns", None))
        except Exception as exc:  # the panel shows the error; the notebook goes on
            log.exception("sqlweave lab: building the panel's messages failed")
            for peer in peers:
                self._send(peer, "error", error_message(f"sqlweave: {exc}"))
            return
        for peer in peers:
            self._send(peer, "graph", by_scope[peer.scope])
            self._send(peer, "schema", schema)

    def _send(self, peer: _Peer, kind: str, message: dict[str, Any]) -> None:
        text = json.dumps(message, sort_keys=True, default=str)
        if peer.sent.get(kind) == text:
            return
        try:
            peer.comm.send(json.loads(text))
        except Exception:  # a comm closed under us (kernel shutting down): forget it
            self.peers.pop(peer.comm.comm_id, None)
            return
        peer.sent[kind] = text

    def close(self) -> None:
        """Unregister the target and the event (extension unload)."""
        with contextlib.suppress(ValueError):
            self.shell.events.unregister("post_run_cell", self.post_run_cell)
        manager = _comm_manager()
        if manager is not None:
            with contextlib.suppress(Exception):
                manager.unregister_target(COMM_TARGET, self.open)
        for peer in list(self.peers.values()):
            with contextlib.suppress(Exception):
                peer.comm.close()
        self.peers.clear()


def _comm_manager() -> Any:
    """The kernel's comm manager, or None outside a kernel (plain IPython, scripts)."""
    try:
        import comm
    except ImportError:
        return None
    try:
        return comm.get_comm_manager()
    except Exception:
        return None


def setup_lab(shell: Any, session: Any, lineage: Any) -> LabBridge | None:
    """Register the ``sqlweave.lab`` comm target when ``shell`` runs in a kernel."""
    if getattr(shell, "kernel", None) is None:
        return None  # plain IPython: there is no frontend to talk to
    manager = _comm_manager()
    if manager is None or not hasattr(manager, "register_target"):
        return None
    bridge = LabBridge(shell, session, lineage)
    manager.register_target(COMM_TARGET, bridge.open)
    shell.events.register("post_run_cell", bridge.post_run_cell)
    bridge.open_from_kernel()
    return bridge
