"""The kernels sqlweave starts headless listen on Unix sockets in a private folder, not TCP.

A kernel started by ``sqlweave run`` or a pipeline talks to one client in the same
process tree: nothing else should be able to connect. jupyter_client's default, TCP on
127.0.0.1, lets any local user reach an unencrypted kernel (ipykernel 7.4 warns so on
every start). IPC sockets in a folder only the user can open (``mkdtemp``: mode 0700) are
reachable by no one else, and go with the folder when the kernel is cleaned up.

>>> km = HeadlessKernelManager(kernel_name="python3")
>>> km.transport if IPC_SUPPORTED else "ipc"
'ipc'
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from .cellids import CellIdKernelManager

#: libzmq's IPC transport needs Unix domain sockets; jupyter_client uses TCP on Windows
IPC_SUPPORTED = os.name != "nt"
#: prefix of the private runtime folders (one per kernel, removed with it)
RUNTIME_PREFIX = "sqlweave-kernel-"
#: a Unix socket path is at most 104 (macOS) or 108 (Linux) bytes, the terminator included
_SOCKET_PATH_MAX = 100


class HeadlessKernelManager(CellIdKernelManager):
    """A :class:`~sqlweave.cellids.CellIdKernelManager` whose kernel listens on IPC sockets
    in a private runtime folder, removed when the kernel's resources are cleaned up."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.runtime_dir: str | None = None
        if IPC_SUPPORTED:
            self.transport = "ipc"

    async def _async_pre_start_kernel(self, **kw: Any) -> Any:
        if self.transport == "ipc" and self.runtime_dir is None:
            self.runtime_dir = private_runtime_dir()
            # the sockets are named after the connection file: <folder>/kernel-ipc-<n>
            self.connection_file = os.path.join(self.runtime_dir, "kernel.json")
            self.ip = os.path.join(self.runtime_dir, "kernel-ipc")
        return await super()._async_pre_start_kernel(**kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        try:
            await super()._async_cleanup_resources(restart=restart)
        finally:
            if not restart and self.runtime_dir is not None:
                shutil.rmtree(self.runtime_dir, ignore_errors=True)
                self.runtime_dir = None

    cleanup_resources = _async_cleanup_resources  # what AsyncKernelManager and nbclient call


def private_runtime_dir() -> str:
    """A new folder only this user can open, short enough to hold a kernel's sockets.

    Its name carries this process's id: folders left by a process that was killed (a
    SIGKILLed pipeline runner cannot clean up) are removed here, once that process is gone.
    A long ``TMPDIR`` (macOS puts it under ``/var/folders/...``) is passed over for
    ``/tmp`` when a socket path in it would be too long.
    """
    prefix = f"{RUNTIME_PREFIX}{os.getpid()}-"
    folder = tempfile.mkdtemp(prefix=prefix)
    if len(os.path.join(folder, "kernel-ipc-00000")) > _SOCKET_PATH_MAX and os.path.isdir("/tmp"):
        os.rmdir(folder)
        folder = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    remove_orphaned_runtime_dirs(os.path.dirname(folder))
    return folder


def remove_orphaned_runtime_dirs(parent: str) -> list[str]:
    """Remove this user's runtime folders in ``parent`` whose process has ended; their paths.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     os.mkdir(os.path.join(tmp, f"{RUNTIME_PREFIX}{2**22 + 1}-abc"))  # above pid_max
    ...     os.mkdir(os.path.join(tmp, f"{RUNTIME_PREFIX}{os.getpid()}-def"))  # alive: kept
    ...     [os.path.basename(p) for p in remove_orphaned_runtime_dirs(tmp)], len(os.listdir(tmp))
    (['sqlweave-kernel-4194305-abc'], 1)
    """
    removed = []
    try:
        names = os.listdir(parent)
    except OSError:
        return removed
    for name in names:
        pid = name.removeprefix(RUNTIME_PREFIX).split("-", 1)[0]
        path = os.path.join(parent, name)
        if not name.startswith(RUNTIME_PREFIX) or not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            if os.stat(path).st_uid != os.getuid():
                continue  # another user's: not ours to remove
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, someone else's
    except OverflowError:
        return False
    return True
