"""A worker's heartbeat thread: proof of life, and noticing that the coordinator is gone.

Heartbeats go out at the period the coordinator handed out at registration, on a socket
of their own, so a long native query never looks like death. The coordinator owns
liveness; the worker only reacts when the coordinator has given up on it (it answers a
heartbeat with ``Shutdown``) or has been unreachable for a while (a restarted
coordinator does not know this worker): then the process exits with
:data:`.supervision.EXIT_REPLACE` and its supervisor starts a fresh worker, which
registers afresh.

Shown as prose: it runs on a real socket (tests/cluster/test_supervision.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable

import zmq
from zmq.utils.monitor import recv_monitor_message

from . import protocol as P
from .supervision import EXIT_REPLACE

log = logging.getLogger("sqlweave.cluster.worker")


def rejoin_after_s(heartbeat_s: float) -> float:
    """How long the coordinator may be unreachable before the worker registers afresh.

    >>> rejoin_after_s(0.35), rejoin_after_s(1.0)
    (3.0, 5.0)
    """
    return max(3.0, 5 * heartbeat_s)


def send_heartbeats(
    sock: zmq.Socket,
    heartbeat: Callable[[], P.Heartbeat],
    period_s: float,
    stop: threading.Event,
) -> None:
    """Send ``heartbeat()`` on ``sock`` every ``period_s`` until ``stop`` is set; closes ``sock``.

    Ends the process (:data:`.supervision.EXIT_REPLACE`) when the coordinator declares
    this worker lost or stays unreachable for :func:`rejoin_after_s`.
    """
    sock.sndtimeo = 0  # a heartbeat nobody takes is dropped, never queued up
    monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
    gone_since: float | None = None
    # the coordinator is gone this long: register afresh (it may be back on its client
    # address with a new worker port, and a restarted coordinator does not know us)
    rejoin_after = rejoin_after_s(period_s)
    try:
        while True:
            with contextlib.suppress(zmq.Again):
                P.send(sock, heartbeat())
            while monitor.poll(0):
                event = recv_monitor_message(monitor)["event"]
                connected = event == zmq.EVENT_HANDSHAKE_SUCCEEDED
                gone_since = None if connected else (gone_since or time.monotonic())
            if gone_since is not None and time.monotonic() - gone_since > rejoin_after:
                log.warning("lost the coordinator for %.1f s; registering afresh", rejoin_after)
                os._exit(EXIT_REPLACE)
            while sock.poll(0):
                _, msg = P.recv(sock)
                if isinstance(msg, P.Shutdown):
                    # the coordinator gave up on us: make way for a fresh worker
                    log.warning("coordinator declared this worker lost: %s", msg.reason)
                    os._exit(EXIT_REPLACE)
            if stop.wait(period_s):
                return
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
        sock.close()
