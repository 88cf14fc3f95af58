"""The coordinator's HTTP endpoint for operators (opt-in; 127.0.0.1 by default).

``sqlweave coordinator --http PORT`` serves:

* ``/health/live``  200 while the coordinator's loop turns;
* ``/health/ready`` 200 when it also has a live worker (503 otherwise, saying why);
* ``/status``       workers, queries running, memory (JSON);
* ``/queries``      finished statements: duration, rows, bytes, state (JSON, newest last);
* ``/metrics``      the same figures in Prometheus' text format (``prometheus_client``).

The loop thread owns the coordinator's state; it hands this module a fresh
:class:`Snapshot` every tick (one reference assignment), which the HTTP threads only
read, so serving never races or blocks the loop.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("sqlweave.cluster.observe")

#: the loop is "live" if it published a snapshot this recently
LIVE_WITHIN_S = 10.0


@dataclass(frozen=True)
class Snapshot:
    """What the coordinator looks like now (built by the loop thread)."""

    taken: float = field(default_factory=time.monotonic)
    pid: int = 0
    incarnation: str = ""
    started: float = 0.0  # wall clock
    rss_bytes: int = 0
    queries_running: int = 0
    local_running: int = 0
    queries_run: int = 0
    workers: tuple[dict[str, Any], ...] = ()
    history: tuple[dict[str, Any], ...] = ()

    def status(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("history")
        d.pop("taken")
        d["workers_alive"] = sum(w["liveness"] != "lost" for w in self.workers)
        return d


class Observer:
    """Serves :class:`Snapshot` s over HTTP on a daemon thread; :meth:`publish` from the loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.snapshot = Snapshot()
        self._registry = _registry(self)
        observer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, kind, body = observer.answer(self.path)
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug(format, *args)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.address = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="http", daemon=True)
        self._thread.start()

    def publish(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def answer(self, path: str) -> tuple[int, str, bytes]:
        """(status code, content type, body) for a GET of ``path``."""
        snap = self.snapshot
        live = time.monotonic() - snap.taken < LIVE_WITHIN_S and snap.pid != 0
        route = path.split("?", 1)[0].rstrip("/")
        if route == "/health/live":
            return _text(200 if live else 503, "live" if live else "loop not turning")
        if route == "/health/ready":
            alive = snap.status()["workers_alive"]
            if not live:
                return _text(503, "loop not turning")
            return _text(200, "ready") if alive else _text(503, "no live worker")
        if route == "/status":
            return 200, "application/json", json.dumps(snap.status()).encode()
        if route == "/queries":
            return 200, "application/json", json.dumps(list(snap.history)).encode()
        if route == "/metrics":
            from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

            return 200, CONTENT_TYPE_LATEST, generate_latest(self._registry)
        return _text(404, "try /health/live, /health/ready, /status, /queries, /metrics")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _text(code: int, text: str) -> tuple[int, str, bytes]:
    return code, "text/plain; charset=utf-8", (text + "\n").encode()


def _registry(observer: Observer) -> Any:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    class Collector:
        def collect(self) -> Any:
            snap = observer.snapshot
            yield GaugeMetricFamily(
                "sqlweave_coordinator_memory_bytes", "coordinator RSS", value=snap.rss_bytes
            )
            yield GaugeMetricFamily(
                "sqlweave_queries_running", "statements running", value=snap.queries_running
            )
            yield CounterMetricFamily(
                "sqlweave_queries",
                "statements started since the catalog began",
                value=snap.queries_run,
            )
            states = GaugeMetricFamily(
                "sqlweave_history_statements",
                "statements in the history by state",
                labels=["state"],
            )
            seconds = CounterMetricFamily(
                "sqlweave_history_seconds",
                "time spent by statements in the history",
                labels=["state"],
            )
            by_state: dict[str, list[float]] = {}
            for h in snap.history:
                by_state.setdefault(h.get("state", ""), []).append(h.get("seconds", 0.0))
            for state, durations in sorted(by_state.items()):
                states.add_metric([state], len(durations))
                seconds.add_metric([state], sum(durations))
            yield states
            yield seconds
            workers = GaugeMetricFamily(
                "sqlweave_workers", "workers by liveness", labels=["liveness"]
            )
            memory = GaugeMetricFamily(
                "sqlweave_worker_memory_bytes", "worker RSS", labels=["worker"]
            )
            fragments = CounterMetricFamily(
                "sqlweave_worker_fragments", "fragments a worker ran", labels=["worker"]
            )
            counts: dict[str, int] = {"alive": 0, "probation": 0, "lost": 0}
            for w in snap.workers:
                counts[w["liveness"]] = counts.get(w["liveness"], 0) + 1
                memory.add_metric([w["worker_id"]], w["rss_bytes"])
                fragments.add_metric([w["worker_id"]], w["fragments_run"])
            for liveness, n in counts.items():
                workers.add_metric([liveness], n)
            yield workers
            yield memory
            yield fragments

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Collector())
    return registry
