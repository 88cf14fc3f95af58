"""CURVE keys and authentication for every socket of the cluster.

ZeroMQ's CURVE mechanism encrypts a connection and proves both ends hold a
secret key; a ZAP handler (:class:`Gatekeeper`) admits only public keys listed
for the socket's domain. Three roles hold keys:

* the **coordinator** key pair: its two ROUTER sockets serve with it; everyone
  else knows only its public half;
* the **worker** key pair: workers connect with it, and serve their peer
  (shuffle) socket with it, so workers talk to each other as well;
* one or more **client** key pairs: notebooks and scripts connect with them.

``sqlweave cluster keys DIR`` (:func:`create_keys`) writes them::

    DIR/coordinator.key          public half (give it to workers and clients)
    DIR/coordinator.key_secret   the coordinator's secret (0600)
    DIR/worker.key_secret        workers' key pair (0600)
    DIR/client.key_secret        a client's key pair (0600)
    DIR/authorized_keys          "ROLE PUBLIC-KEY NAME" lines the coordinator admits

The files use ZeroMQ's certificate format (``zmq.auth.load_certificate``
reads them). Processes get a key directory through ``--keys DIR`` or the
:data:`KEYS_ENV` variable, never key material in argv; :class:`KeyPair`'s repr
hides the secret half.

>>> import tempfile
>>> folder = tempfile.TemporaryDirectory()
>>> keys = ClusterKeys.load(create_keys(folder.name + "/k"))
>>> sorted(r.value for r in keys.authorized), "secret" in repr(keys.client)
(['client', 'worker'], False)
>>> folder.cleanup()
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import zmq

from ..errors import UsageError

log = logging.getLogger("sqlweave.cluster.curve")

#: environment variable naming a key directory (how LocalCluster hands keys to its processes)
KEYS_ENV = "SQLWEAVE_KEYS"
AUTHORIZED = "authorized_keys"
SECRET_SUFFIX = ".key_secret"
PUBLIC_SUFFIX = ".key"
HOW_TO_MAKE_KEYS = (
    "create keys with `sqlweave cluster keys DIR` and start the coordinator and workers "
    "with `--keys DIR` (clients: `Session(engine=ADDRESS, keys=DIR)` or "
    "`%sqlweave connect ADDRESS --keys DIR`)"
)


class Role(str, Enum):
    COORDINATOR = "coordinator"
    WORKER = "worker"
    CLIENT = "client"


class Domain(str, Enum):
    """ZAP domains: which keys a serving socket admits."""

    CLIENTS = "sqlweave.clients"  # coordinator's client socket: clients and workers
    WORKERS = "sqlweave.workers"  # coordinator's worker socket: workers only
    PEERS = "sqlweave.peers"  # a worker's shuffle socket: workers only


class KeysError(UsageError):
    """A key directory or file that cannot be used (missing, unreadable, malformed)."""


@dataclass(frozen=True)
class KeyPair:
    """A z85-encoded CURVE key pair; ``secret`` is None when only the public half is known."""

    public: bytes
    secret: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ClusterKeys:
    """What one process knows of a cluster's keys (loaded from a key directory)."""

    directory: Path
    coordinator: KeyPair
    worker: KeyPair | None = None
    client: KeyPair | None = None
    #: public keys the coordinator admits, by role
    authorized: Mapping[Role, frozenset[bytes]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike[str], client: str = "client") -> ClusterKeys:
        """Load a key directory, or a ``NAME.key_secret`` file next to ``coordinator.key``."""
        p = Path(path).expanduser()
        if p.is_file() and p.name.endswith(SECRET_SUFFIX):
            directory, client_pair = p.parent, _read(p)
        elif p.is_dir():
            directory = p
            f = p / f"{client}{SECRET_SUFFIX}"
            client_pair = _read(f) if f.exists() else None
        else:
            raise KeysError(f"no key directory at {p}: {HOW_TO_MAKE_KEYS}")
        coordinator = _read(_first(directory, "coordinator", secret_first=True))
        wf = directory / f"worker{SECRET_SUFFIX}"
        worker = _read(wf) if wf.exists() else None
        return cls(directory, coordinator, worker, client_pair, _read_authorized(directory))

    @classmethod
    def from_env(cls) -> ClusterKeys | None:
        """Keys named by :data:`KEYS_ENV`, or None when it is unset."""
        path = os.environ.get(KEYS_ENV)
        return cls.load(path) if path else None

    def own(self, role: Role) -> KeyPair:
        """This process's key pair for ``role``; :class:`KeysError` if its secret is absent."""
        pair = {Role.COORDINATOR: self.coordinator, Role.WORKER: self.worker}.get(role, self.client)
        if pair is None or pair.secret is None:
            raise KeysError(f"{self.directory} holds no {role.value} secret key")
        return pair


def create_keys(directory: str | os.PathLike[str], clients: Iterable[str] = ("client",)) -> Path:
    """Write a new cluster's keys into ``directory`` (created 0700; secrets 0600).

    Refuses a directory that already holds a coordinator key (keys are not overwritten).
    """
    d = Path(directory).expanduser()
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    if (d / f"coordinator{SECRET_SUFFIX}").exists():
        raise KeysError(f"{d} already holds cluster keys; remove them or choose another directory")
    lines = ["# ROLE PUBLIC-KEY NAME: keys the coordinator admits"]
    for role, name in [(Role.COORDINATOR, "coordinator"), (Role.WORKER, "worker")] + [
        (Role.CLIENT, c) for c in clients
    ]:
        public, secret = zmq.curve_keypair()
        _write(d / f"{name}{SECRET_SUFFIX}", public, secret)
        _write(d / f"{name}{PUBLIC_SUFFIX}", public, None)
        if role is not Role.COORDINATOR:
            lines.append(f"{role.value} {public.decode()} {name}")
    _write_text(d / AUTHORIZED, "\n".join(lines) + "\n", 0o600)
    return d


# ----- sockets -------------------------------------------------------------------


def serve(sock: zmq.Socket, pair: KeyPair, domain: Domain) -> None:
    """Make ``sock`` (before it binds) a CURVE server whose peers the ZAP domain vets."""
    sock.curve_server = True
    sock.curve_secretkey = pair.secret
    sock.curve_publickey = pair.public
    sock.zap_domain = domain.value.encode()


def connect_as(sock: zmq.Socket, pair: KeyPair, server_public: bytes) -> None:
    """Make ``sock`` (before it connects) a CURVE client of the server with ``server_public``."""
    sock.curve_secretkey = pair.secret
    sock.curve_publickey = pair.public
    sock.curve_serverkey = server_public


def sender_key(frame: Any) -> str | None:
    """The z85 public key that authenticated the connection ``frame`` arrived on, if CURVE."""
    try:
        return frame.get("User-Id")
    except (zmq.ZMQError, AttributeError, KeyError):
        return None


#: a refused key is logged at most once per this many seconds (peers retry every 0.1 s)
REFUSAL_LOG_EVERY_S = 60.0


class _Allowed:
    """ZAP credentials provider: the public keys one domain admits."""

    def __init__(self, keys: frozenset[bytes]) -> None:
        self.keys = keys
        self._logged: dict[bytes, float] = {}

    def callback(self, domain: str, key: bytes) -> bool:
        ok = key in self.keys
        if not ok:
            now = time.monotonic()
            if now - self._logged.get(key, -REFUSAL_LOG_EVERY_S) >= REFUSAL_LOG_EVERY_S:
                if len(self._logged) > 1000:  # bounded, whatever an attacker tries
                    self._logged.clear()
                self._logged[key] = now
                # a public key is no secret: the line says who knocked
                log.warning("refused a connection to %s: unknown key %s", domain, key.decode())
        return ok


class Gatekeeper:
    """The ZAP handler of one ZeroMQ context: admits known public keys per :class:`Domain`.

    Start it before binding CURVE servers on that context; :meth:`stop` before the
    context is destroyed.
    """

    def __init__(self, zctx: zmq.Context, allowed: Mapping[Domain, Iterable[bytes]]) -> None:
        from zmq.auth.thread import ThreadAuthenticator

        self._auth = ThreadAuthenticator(zctx, log=logging.getLogger("sqlweave.cluster.zap"))
        self._auth.start()
        for domain, keys in allowed.items():
            self._auth.configure_curve_callback(domain.value, _Allowed(frozenset(keys)))
        self._lock = threading.Lock()

    def stop(self) -> None:
        with self._lock:
            if self._auth is not None:
                self._auth.stop()
                self._auth = None


# ----- files -----------------------------------------------------------------------


def _write(path: Path, public: bytes, secret: bytes | None) -> None:
    body = (
        "#   sqlweave cluster key (ZeroMQ certificate format)\n"
        f'metadata\ncurve\n    public-key = "{public.decode()}"\n'
    )
    if secret is not None:
        body += f'    secret-key = "{secret.decode()}"\n'
    _write_text(path, body, 0o600 if secret is not None else 0o644)


def _write_text(path: Path, text: str, mode: int) -> None:
    # created with its final mode: a secret is never readable by others, not even briefly
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _first(directory: Path, name: str, secret_first: bool) -> Path:
    names = [name + SECRET_SUFFIX, name + PUBLIC_SUFFIX]
    for candidate in names if secret_first else names[::-1]:
        if (directory / candidate).exists():
            return directory / candidate
    raise KeysError(f"{directory} has no {name}{PUBLIC_SUFFIX}: {HOW_TO_MAKE_KEYS}")


def _read(path: Path) -> KeyPair:
    from zmq.auth import load_certificate

    try:
        public, secret = load_certificate(path)
    except (OSError, ValueError) as exc:
        raise KeysError(f"cannot read key file {path}: {exc}") from None
    if len(public) != 40 or (secret is not None and len(secret) != 40):
        raise KeysError(f"key file {path} does not hold 40-character z85 keys")
    return KeyPair(public, secret)


def _read_authorized(directory: Path) -> dict[Role, frozenset[bytes]]:
    path = directory / AUTHORIZED
    if not path.exists():
        return {}
    out: dict[Role, set[bytes]] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):  # z85 keys may contain '#'
            continue
        try:
            role = Role(words[0])
        except ValueError:
            raise KeysError(f"{path}:{n}: unknown role {words[0]!r}") from None
        if len(words) < 2 or len(words[1]) != 40:
            raise KeysError(f"{path}:{n}: expected ROLE PUBLIC-KEY [NAME]")
        out.setdefault(role, set()).add(words[1].encode())
    return {r: frozenset(k) for r, k in out.items()}


# ----- keys this process was handed for an address -----------------------------------

_REMEMBERED: dict[str, ClusterKeys] = {}


def remember(address: str, keys: ClusterKeys) -> None:
    """Let clients in this process find ``keys`` for ``address`` (a LocalCluster's own keys)."""
    _REMEMBERED[address] = keys


def forget(address: str) -> None:
    _REMEMBERED.pop(address, None)


def keys_for(address: str, keys: ClusterKeys | str | os.PathLike[str] | None) -> ClusterKeys | None:
    """The keys a client of ``address`` uses: given ones, remembered ones, or :data:`KEYS_ENV`."""
    if isinstance(keys, ClusterKeys):
        return keys
    if keys is not None:
        return ClusterKeys.load(keys)
    return _REMEMBERED.get(address) or ClusterKeys.from_env()
