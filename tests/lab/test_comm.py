"""The kernel end of the Lab panel, in a real kernel: a client opens the ``sqlweave.lab``
comm as JupyterLab does and reads what the kernel pushes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator

import jsonschema
import pytest
from IPython.core.interactiveshell import InteractiveShell
from jupyter_client.manager import start_new_kernel

from sqlweave.lab import COMM_TARGET, SCHEMA_PATH

pytestmark = pytest.mark.process
VALIDATOR = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
TIMEOUT = 60


@pytest.fixture
def kernel(tmp_path) -> Iterator[object]:
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _open(kc, data: dict | None = None) -> str:
    comm_id = uuid.uuid4().hex
    content = {"comm_id": comm_id, "target_name": COMM_TARGET, "data": data or {}}
    kc.shell_channel.send(kc.session.msg("comm_open", content))
    return comm_id


def _send(kc, comm_id: str, data: dict) -> None:
    kc.shell_channel.send(kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data}))


def _until(kc, done: Callable[[dict], bool]) -> list[dict]:
    """IOPub messages up to and including the first for which ``done`` is true."""
    seen = []
    while True:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        seen.append(msg)
        if done(msg):
            return seen


def _comm_data(msgs: list[dict], comm_id: str, kind: str) -> list[dict]:
    out = [
        m["content"]["data"]
        for m in msgs
        if m["msg_type"] == "comm_msg"
        and m["content"]["comm_id"] == comm_id
        and m["content"]["data"].get("type") == kind
    ]
    for data in out:
        VALIDATOR.validate(data)
    return out


def _idle_after(msg_id: str) -> Callable[[dict], bool]:
    return lambda m: (
        m["msg_type"] == "status"
        and m["parent_header"].get("msg_id") == msg_id
        and m["content"]["execution_state"] == "idle"
    )


def test_panel_connects_after_load_ext_and_gets_each_cells_graph(kernel):
    kc = kernel
    kc.execute_interactive("1 + 1", timeout=TIMEOUT)
    early = _open(kc)  # before %load_ext: the kernel closes it, the panel retries later
    _until(kc, lambda m: m["msg_type"] == "comm_close" and m["content"]["comm_id"] == early)

    kc.execute_interactive("%load_ext sqlweave", timeout=TIMEOUT)
    comm_id = _open(kc)
    first = _until(
        kc, lambda m: bool(_comm_data([m], comm_id, "schema"))
    )  # graph, then schema, on connecting
    (graph,) = _comm_data(first, comm_id, "graph")
    assert graph["datasets"] == [] and graph["scope"] == "notebook"

    msg_id = kc.execute("%%sql\nCREATE TABLE trips AS SELECT 1 AS id, 2.5 AS fare")
    msgs = _until(kc, _idle_after(msg_id))  # pushed before the kernel goes idle
    (graph,) = _comm_data(msgs, comm_id, "graph")
    assert [d["name"] for d in graph["datasets"]] == ["trips"]
    (schema,) = _comm_data(msgs, comm_id, "schema")
    assert "trips" in {t["name"] for t in schema["tables"]}

    msg_id = kc.execute("x = 41")  # nothing changed: nothing is sent
    msgs = _until(kc, _idle_after(msg_id))
    assert _comm_data(msgs, comm_id, "graph") == []

    _send(kc, comm_id, {"type": "request", "version": 1, "scope": "folder"})
    msgs = _until(kc, lambda m: bool(_comm_data([m], comm_id, "graph")))
    assert _comm_data(msgs, comm_id, "graph")[0]["scope"] == "folder"

    _send(kc, comm_id, {"type": "request", "version": 1, "scope": "everything"})
    msgs = _until(kc, lambda m: bool(_comm_data([m], comm_id, "error")))
    assert "unknown scope" in _comm_data(msgs, comm_id, "error")[0]["message"]


def test_plain_ipython_loads_without_a_comm_target():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "sqlweave")
    try:
        magics = next(c for c in shell.configurables if type(c).__name__ == "SqlWeave")
        assert magics.lab_bridge is None  # no kernel, no frontend to talk to
        shell.run_cell("%sql SELECT 1 AS one")
    finally:
        shell.run_line_magic("unload_ext", "sqlweave")
        shell.config.pop("SqlWeave", None)


def test_kernel_opens_one_comm_itself_at_load_ext(kernel):
    """The kernel opens the comm on IOPub at ``%load_ext``, so a panel connects during a
    Run All instead of after it; it opens one, not one per cell or per load."""
    kc = kernel
    msg_id = kc.execute("%load_ext sqlweave")
    msgs = _until(kc, _idle_after(msg_id))
    opens = [
        m["content"]
        for m in msgs
        if m["msg_type"] == "comm_open" and m["content"]["target_name"] == COMM_TARGET
    ]
    assert len(opens) == 1
    comm_id = opens[0]["comm_id"]
    (graph,) = _comm_data(msgs, comm_id, "graph")  # pushed right after opening
    assert graph["datasets"] == []

    msg_id = kc.execute("%%sql\nCREATE TABLE trips AS SELECT 1 AS id")
    msgs = _until(kc, _idle_after(msg_id))
    assert [m for m in msgs if m["msg_type"] == "comm_open"] == []
    (graph,) = _comm_data(msgs, comm_id, "graph")  # the kernel-opened comm is a peer
    assert [d["name"] for d in graph["datasets"]] == ["trips"]

    msg_id = kc.execute("%load_ext sqlweave")  # loaded already: nothing reopens
    msgs = _until(kc, _idle_after(msg_id))
    assert [m for m in msgs if m["msg_type"] == "comm_open"] == []
