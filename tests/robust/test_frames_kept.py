"""The cluster client registers a notebook DataFrame from the coordinator's kept copy
without waiting for the answer (it comes ahead of the statement's). When the coordinator
no longer has the copy, the frame is shipped and the statement runs again: the answer is
right, and nothing is left behind."""

from __future__ import annotations

import pandas as pd

import sqlweave
from sqlweave.cluster.frame_cache import MAX_ENTRIES


def _sum(s: sqlweave.Session, ns: dict) -> int:
    got = s.sql("SELECT sum(a) AS s FROM df", namespace=ns).to_arrow()
    return got.to_pylist()[0]["s"]


def test_a_frame_whose_copy_was_dropped_is_shipped_again(local_cluster, monkeypatch) -> None:
    shipped: list[int] = []
    real = sqlweave.frames.to_arrow

    def counting(value):
        shipped.append(1)
        return real(value)

    monkeypatch.setattr(sqlweave.frames, "to_arrow", counting)
    s = sqlweave.Session(local_cluster)
    try:
        first = pd.DataFrame({"a": [1, 2, 3]})
        assert _sum(s, {"df": first}) == 6
        assert _sum(s, {"df": first}) == 6  # from the kept copy
        assert len(shipped) == 1
        # other frames push the first one out of the coordinator's cache; the client
        # still believes it is kept
        for i in range(MAX_ENTRIES):
            assert _sum(s, {"df": pd.DataFrame({"a": [10 + i]})}) == 10 + i
        assert len(shipped) == 1 + MAX_ENTRIES
        assert _sum(s, {"df": first}) == 6  # refused, shipped, run again
        assert len(shipped) == 2 + MAX_ENTRIES
        assert _sum(s, {"df": first}) == 6  # and kept again
        assert len(shipped) == 2 + MAX_ENTRIES
        assert "df" not in s.tables()
    finally:
        s.close()


def test_a_statement_failing_for_its_own_reasons_leaves_no_frame_behind(local_cluster) -> None:
    s = sqlweave.Session(local_cluster)
    try:
        ns = {"df": pd.DataFrame({"a": [1, 2, 3]})}
        assert _sum(s, ns) == 6
        for _ in range(2):
            try:
                s.sql("SELECT nope FROM df", namespace=ns)
            except sqlweave.errors.SqlError as exc:
                assert "nope" in str(exc)
            else:
                raise AssertionError("a missing column must fail")
        assert "df" not in s.tables()
        assert _sum(s, ns) == 6
    finally:
        s.close()
