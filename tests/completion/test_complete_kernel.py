"""Completion through a real kernel's ``complete_request``, as JupyterLab and VS Code ask."""

from __future__ import annotations

import pytest
from jupyter_client.manager import start_new_kernel

pytestmark = pytest.mark.process

SETUP = """
%load_ext sqlweave
import pandas as pd, pyarrow as pa
flows = pd.DataFrame({"origin": ["JFK"], "n": [3]})
arrow_tab = pa.table({"k": [1]})
min_delay = 15
%sql CREATE TABLE flights AS SELECT 1.5 AS dep_delay, 'AA' AS carrier, 'JFK' AS origin
%sql CREATE TABLE fleet AS SELECT 'N1' AS tail
%sql earlier << SELECT 1 AS one
"""


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    # its own folder: the kernel's lineage store (.sqlweave/) must not land in the repository
    folder = tmp_path_factory.mktemp("kernel")
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(folder))
    try:
        reply = kc.execute_interactive(SETUP, timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _complete(kc, marked: str) -> tuple[list[tuple[str, str]], dict]:
    """``[(text, type)]`` the kernel offers at the ``|`` of ``marked``, and the reply."""
    cursor = marked.index("|")
    code = marked.replace("|", "", 1)
    msg_id = kc.complete(code, cursor)
    reply = kc.get_shell_msg(timeout=30)
    assert reply["parent_header"]["msg_id"] == msg_id
    content = reply["content"]
    assert content["status"] == "ok"
    typed = content["metadata"].get("_jupyter_types_experimental", [])
    return [(c["text"], c["type"]) for c in typed], content


def test_table_prefix_in_a_cell(kernel):
    matches, content = _complete(kernel, "%%sql\nSELECT * FROM fl|")
    assert matches == [("fleet", "table"), ("flights", "table"), ("flows", "dataframe")]
    assert content["matches"] == ["fleet", "flights", "flows"]
    assert content["cursor_start"] == len("%%sql\nSELECT * FROM ")
    assert content["cursor_end"] == len("%%sql\nSELECT * FROM fl")


def test_alias_column_in_a_cell(kernel):
    matches, content = _complete(kernel, "%%sql\nSELECT f.dep_del| FROM flights f")
    assert matches == [("dep_delay", "column double")]
    assert content["cursor_start"] == len("%%sql\nSELECT f.")


def test_dataframe_columns_and_earlier_results(kernel):
    matches, _ = _complete(kernel, "%%sql\nSELECT g.| FROM flows g")
    assert matches == [("origin", "column str"), ("n", "column int64")]
    tables, _ = _complete(kernel, "%%sql\nSELECT * FROM |")
    assert ("earlier", "result") in tables and ("arrow_tab", "arrow") in tables


def test_keywords_in_a_cell_and_after_a_line_magic(kernel):
    assert _complete(kernel, "%%sql\nSEL|")[0] == [("SELECT", "keyword")]
    matches, content = _complete(kernel, "x = %sql SELECT * FROM flights WH|")
    assert matches[0] == ("WHERE", "keyword")
    assert content["cursor_start"] == len("x = %sql SELECT * FROM flights ")


def test_bare_column_prefix_on_a_later_line(kernel):
    code = "%%sql\nSELECT carrier,\n       or|\nFROM flights JOIN fleet ON true"
    matches, _ = _complete(kernel, code)
    assert matches[0] == ("origin", "column string")


def test_cte_columns(kernel):
    code = "%%sql late <<\nWITH l AS (SELECT carrier AS c FROM flights)\nSELECT l.| FROM l"
    assert _complete(kernel, code)[0] == [("c", "column")]


def test_parameters(kernel):
    matches, _ = _complete(kernel, "%%sql\nSELECT * FROM flights WHERE dep_delay > :min_|")
    assert matches == [("min_delay", "parameter int")]


def test_python_cells_keep_python_completion(kernel):
    matches, _ = _complete(kernel, "min_de|")
    assert ("min_delay", "instance") in matches or any(t == "min_delay" for t, _ in matches)
    sql_like, _ = _complete(kernel, "SELECT * FROM fl|")  # no magic: Python, not SQL
    assert ("flights", "table") not in sql_like


def test_completion_sees_tables_created_since(kernel):
    kernel.execute_interactive("%sql CREATE TABLE flagged AS SELECT 1 AS id", timeout=30)
    matches, _ = _complete(kernel, "%%sql\nSELECT * FROM fla|")
    assert matches == [("flagged", "table")]
