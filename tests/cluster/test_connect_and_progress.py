"""README claims of the notebook face of the cluster: ``%sqlweave connect ADDRESS`` puts the
notebook's ``%%sql`` on a running cluster, and long queries show their progress (short ones
none). A real 2-worker cluster; the magics in a real InteractiveShell."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from waiting import wait_for

from sqlweave.cluster.localcluster import LocalCluster
from sqlweave.magics import progress as progress_magics
from sqlweave.magics.sql import SqlWeave

pytestmark = pytest.mark.process

GROUPED = "SELECT x % 3 AS k, count(*) AS n FROM nums GROUP BY x % 3 ORDER BY k"
ANSWER = [{"k": 0, "n": 13334}, {"k": 1, "n": 13333}, {"k": 2, "n": 13333}]


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(workers=2, heartbeat_s=0.2) as c:
        e = c.client()
        e.register_arrow("nums", pa.table({"x": list(range(40_000))}))
        yield c


@pytest.fixture
def ip(
    ip: InteractiveShell, cluster: LocalCluster, capsys: pytest.CaptureFixture[str]
) -> InteractiveShell:
    """The shell (tests/conftest.py) ``%sqlweave connect``-ed to the cluster, the way the
    README shows (with the cluster's key directory)."""
    ip.run_line_magic("sqlweave", f"connect {cluster.address} --keys {cluster.keys.directory}")
    assert f"connected to {cluster.address} (2 workers)" in capsys.readouterr().out
    return ip


def _session(ip: InteractiveShell):
    (magics,) = [c for c in ip.configurables if isinstance(c, SqlWeave)]
    return magics.session


def test_connect_runs_the_notebooks_sql_on_the_cluster(
    cluster: LocalCluster, ip: InteractiveShell
) -> None:
    before = cluster.status().queries_run
    result = ip.run_cell_magic("sql", "", GROUPED)
    assert result.engine == "cluster"
    assert result.to_arrow().to_pylist() == ANSWER
    # the coordinator counted it, and both workers took fragments of it
    wait_for(lambda: cluster.status().queries_run > before, 10, "the query to be counted")
    workers = {r.worker for r in _session(ip).engine.last_runs}
    assert {"w1", "w2"} <= workers


def test_a_long_query_shows_its_progress_in_place_and_a_short_one_none(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown_displays: list = []
    make_display = progress_magics.progress_display

    def recording_progress_display(*args: object):
        shown_displays.append(make_display(*args))
        return shown_displays[-1]

    monkeypatch.setattr(progress_magics, "progress_display", recording_progress_display)
    # every query counts as long: the progress shows at the first report
    monkeypatch.setattr(progress_magics, "SHOW_AFTER_S", 0.0)
    with capture_output() as shown:
        assert ip.run_cell_magic("sql", "", GROUPED).to_arrow().to_pylist() == ANSWER
    (display,) = shown_displays
    last = display.latest
    assert last is not None and last.fragments_total >= 2
    assert last.fragments_done == last.fragments_total  # every fragment counted done
    # one output, made once and updated in place; the last update empties it (the
    # result is what the cell shows)
    made = [o for o in shown.outputs if not o.update]
    assert len(made) == 1 and made[0].data["text/plain"].startswith("cluster: ")
    (display_id,) = {o.transient["display_id"] for o in shown.outputs}
    assert display_id
    assert f"{last.fragments_total}/{last.fragments_total} fragments" in "".join(
        o.data["text/plain"] for o in shown.outputs
    )
    assert shown.outputs[-1].update and shown.outputs[-1].data["text/plain"] == ""
    # no query is long: nothing is displayed besides the result
    monkeypatch.setattr(progress_magics, "SHOW_AFTER_S", 3600.0)
    with capture_output() as shown:
        ip.run_cell_magic("sql", "", GROUPED)
    assert len(shown_displays) == 2 and shown_displays[1].latest is not None
    assert shown.outputs == []
