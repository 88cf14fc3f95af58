"""README claims of the notebook face of the cluster: ``%sqlweave connect ADDRESS`` puts the
notebook's ``%%sql`` on a running cluster, and long queries show a progress bar (short ones
none). A real 2-worker cluster; the magics in a real InteractiveShell."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from ipywidgets.widgets.widget import _instances as widget_instances
from waiting import wait_for

from sqlweave.cluster.localcluster import LocalCluster
from sqlweave.magics import cluster as cluster_magics
from sqlweave.magics.sql import SqlWeave

pytestmark = pytest.mark.process

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
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


def test_a_long_query_shows_a_progress_bar_and_a_short_one_none(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    bars: list = []
    make_bar = cluster_magics.progress_display

    def recording_progress_display(*args: object):
        bars.append(make_bar(*args))
        return bars[-1]

    monkeypatch.setattr(cluster_magics, "progress_display", recording_progress_display)
    # every query counts as long: the bar shows at the first progress report
    monkeypatch.setattr(cluster_magics, "SHOW_AFTER_S", 0.0)
    with capture_output() as shown:
        assert ip.run_cell_magic("sql", "", GROUPED).to_arrow().to_pylist() == ANSWER
    (bar,) = bars
    assert bar.bar is not None, "no progress bar was shown"
    (shown_id,) = [o.data[WIDGET_VIEW]["model_id"] for o in shown.outputs if WIDGET_VIEW in o.data]
    # what the cell displayed is that bar (beside its label)
    assert widget_instances[shown_id].children == (bar.bar, bar.label)
    assert bar.bar.max >= 2 and bar.bar.value == bar.bar.max  # every fragment counted done
    assert bar.bar.bar_style == "success"
    assert f"{bar.bar.max}/{bar.bar.max} fragments" in bar.label.value
    # no query is long: nothing is displayed besides the result
    monkeypatch.setattr(cluster_magics, "SHOW_AFTER_S", 3600.0)
    with capture_output() as shown:
        ip.run_cell_magic("sql", "", GROUPED)
    assert len(bars) == 2 and bars[1].bar is None
    assert not [o for o in shown.outputs if WIDGET_VIEW in o.data]
