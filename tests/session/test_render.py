import re

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


LONG = (
    "count(flights.dep_delay > weather.temp AND flights.arr_delay > weather.dewp"
    " AND flights.origin = weather.origin)"
)


def test_long_unaliased_headers_are_cut_in_the_middle_with_the_whole_name_as_tooltip():
    r = sqlweave.Session().sql(
        "SELECT count(a > b AND a > c AND a > b + c AND a > b * c AND a > b - c AND a > b / c)"
        " FROM (VALUES (1, 2, 3)) AS t(a, b, c)"
    )
    name = r.table.schema.names[0]
    assert len(name) > 100
    html = r._repr_html_()
    shown = render.short_name(name)
    assert len(shown) == render.MAX_HEADER_CHARS and "…" in shown
    assert f'title="{name.replace(">", "&gt;")}">{shown.replace(">", "&gt;")}<small' in html
    assert html.count(name.replace(">", "&gt;")) == 1  # only in the tooltip
    assert repr(r).splitlines()[0].strip() == shown
    assert r.to_pandas().columns[0] == name  # the data keeps the whole name


def test_short_headers_get_no_tooltip():
    html = render.to_html(pa.table({"carrier": ["AA"]}), render.Display(limit=5))
    assert "title=" not in html


def test_binary_values_render_as_hex_never_as_python_bytes():
    t = pa.table(
        {
            "b": pa.array([b"\x01\x02\xff", bytes(range(40)), None], pa.binary()),
            "l": pa.array([[b"\x00"], [], None], pa.list_(pa.large_binary())),
        }
    )
    text = render.to_text(t, render.Display(limit=5))
    assert [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()[3:6]] == [
        ["\\x0102ff", "[\\x00]"],
        ["\\x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f… (40 bytes)", "[]"],
        ["NULL", "NULL"],
    ]
    html = render.to_html(t, render.Display(limit=5))
    assert "<td>\\x0102ff</td>" in html and "<td>[\\x00]</td>" in html
    assert "b&#x27;" not in html and "b'" not in text


def test_binary_from_the_engines_renders_as_hex():
    for engine in ("local", "duckdb"):
        sql = "SELECT X'CAFE' AS b" if engine == "local" else "SELECT '\\xCA\\xFE'::BLOB AS b"
        r = sqlweave.Session(engine).sql(sql)
        assert repr(r).splitlines()[3].strip() == "\\xcafe", engine
