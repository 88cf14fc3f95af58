import pyarrow as pa

import sqlweave
from sqlweave import render


def test_ten_million_rows_render_only_the_head():
    r = sqlweave.Session().sql("SELECT v, v * 2 AS w FROM generate_series(1, 10000000) AS g(v)")
    assert len(r) == 10_000_000
    html = r._repr_html_()
    assert html.count("<tr>") == r.display_limit + 1  # header + shown rows
    assert "10,000,000 rows (showing first 20)" in html
    text = repr(r)
    assert len(text.splitlines()) == 3 + 20 + 1


def test_html_escapes_and_marks_nulls():
    t = pa.table({"s": ["<b>x</b>", None]})
    html = render.to_html(t, render.Display(limit=5))
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert 'class="null"' in html


def test_text_shows_types_rows_time_and_engine():
    t = pa.table({"a": [1, 22], "b": ["x", None]})
    text = render.to_text(t, render.Display(limit=1, elapsed_s=0.0123, engine="datafusion"))
    assert text.splitlines() == [
        "    a       b",
        "int64  string",
        "-----  ------",
        "    1       x",
        "2 rows (showing first 1) · 12.3 ms · datafusion",
    ]


def test_message_only_result():
    t = pa.table({})
    assert render.to_text(t, render.Display(limit=5, message="created table t")).splitlines() == [
        "created table t"
    ]


def test_the_string_null_is_not_a_null():
    html = render.to_html(pa.table({"s": ["NULL", None]}), render.Display(limit=5))
    assert html.count('class="null"') == 1


def test_ipython_gets_both_renderings_in_one_bundle():
    from IPython.core.formatters import DisplayFormatter

    r = sqlweave.Session().sql("SELECT 1 AS x, NULL AS y")
    data, _ = DisplayFormatter().format(r)
    assert data["text/html"] == r._repr_html_()
    assert data["text/plain"] == repr(r)
    assert "NULL" in data["text/plain"] and 'class="null"' in data["text/html"]
