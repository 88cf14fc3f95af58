"""A kernel client that tells the kernel which notebook cell it runs, as JupyterLab does.

JupyterLab 4, Notebook 7 and VS Code put the cell's id in the ``execute_request``
metadata (``{"cellId": ...}``); ipykernel passes it to IPython's ``run_cell(cell_id=...)``,
where lineage reads it. nbclient sends no metadata, so the headless runner uses this client
and sets :attr:`CellIdKernelClient.cell_id` before each cell: a notebook run headless and in
JupyterLab then records its cells under the same ids, in one graph.
"""

from __future__ import annotations

from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from traitlets import DottedObjectName, Type, Unicode

#: the execute_request metadata key JupyterLab, Notebook 7 and VS Code use for the cell id
CELL_ID_KEY = "cellId"
#: the kernel environment variable jupyter-server sets to the notebook's path
SESSION_ENV = "JPY_SESSION_NAME"


class CellIdKernelClient(AsyncKernelClient):
    """An async kernel client whose execute requests carry ``cellId`` metadata."""

    cell_id = Unicode(None, allow_none=True, help="id of the cell being executed")

    def execute(
        self,
        code: str,
        silent: bool = False,
        store_history: bool = True,
        user_expressions: dict[str, Any] | None = None,
        allow_stdin: bool | None = None,
        stop_on_error: bool = True,
    ) -> str:
        """Like :meth:`jupyter_client.KernelClient.execute`, with the cell id as metadata."""
        content = {
            "code": code,
            "silent": silent,
            "store_history": store_history,
            "user_expressions": user_expressions or {},
            "allow_stdin": self.allow_stdin if allow_stdin is None else allow_stdin,
            "stop_on_error": stop_on_error,
        }
        metadata = {CELL_ID_KEY: self.cell_id} if self.cell_id else {}
        msg = self.session.msg("execute_request", content, metadata=metadata)
        self.shell_channel.send(msg)
        return msg["header"]["msg_id"]


class CellIdKernelManager(AsyncKernelManager):
    """An async kernel manager whose clients are :class:`CellIdKernelClient`\\ s."""

    client_class = DottedObjectName("sqlweave.cellids.CellIdKernelClient")
    client_factory = Type(CellIdKernelClient, klass=AsyncKernelClient)
