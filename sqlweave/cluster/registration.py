"""What a worker and the coordinator agree on when a worker joins.

Both sides import this module, so neither imports the other: the versions a worker must
run (:class:`Versions`) and how a worker's sockets are named on the wire
(:class:`Channel`, :func:`socket_identity`).

>>> socket_identity("5f2a", Channel.RESULTS)
b'5f2a/results'
>>> session_of(b"5f2a/results") == session_of(b"5f2a/heartbeat")
True
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .protocol import PROTOCOL_VERSION


@dataclass(frozen=True)
class Versions:
    """What a worker must run to join: the same sqlweave and DataFusion versions."""

    sqlweave: str
    datafusion: str
    protocol: int = PROTOCOL_VERSION

    @classmethod
    def current(cls) -> Versions:
        """The versions this process runs."""
        import datafusion

        from .._version import __version__

        return cls(__version__, datafusion.__version__)


class Channel(str, Enum):
    """A worker's sockets to the coordinator; each is named ``SESSION/CHANNEL`` on the wire."""

    CONTROL = "control"
    RESULTS = "results"
    HEARTBEAT = "heartbeat"
    EXITING = "exiting"
    PROGRESS = "progress"


def socket_identity(session: str, channel: Channel) -> bytes:
    """The ZeroMQ routing id of a worker socket: a random per-process session plus the channel.

    The session is secret between one worker process and the coordinator (CURVE encrypts it),
    so a message naming worker ``w1`` proves it comes from ``w1`` when its routing id carries
    the session ``w1`` registered with.
    """
    return f"{session}/{channel.value}".encode()


def session_of(identity: bytes) -> bytes:
    """The session part of a worker socket's routing id (all of it if it has no channel)."""
    return identity.rsplit(b"/", 1)[0] if b"/" in identity else identity
