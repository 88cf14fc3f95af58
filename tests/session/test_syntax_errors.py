"""Common SQL slips get a short error with the caret on the slip itself, on both engines.

Golden style: the statement in, the error as the notebook shows it out (message, the line
with its caret, the hint). Engines stop at the first token their grammar cannot take, often
a word after the mistake; the expectations are the same whichever engine runs.
"""

from __future__ import annotations

import pandas as pd
import pytest

import sqlweave
from sqlweave.errors import ParseError, PlanError

ENGINES = ["local", "duckdb"]
FLIGHTS = pd.DataFrame({"carrier": ["AA", "UA", "AA"], "dep_delay": [1, 20, 5]})

GOLDEN = [
    (
        "SELECT carrier, count(*) FROM flights GROUP BY carrier HAVING ORDER BY 2",
        """\
ParseError: HAVING has no condition before ORDER BY
  line 1: SELECT carrier, count(*) FROM flights GROUP BY carrier HAVING ORDER BY 2
                                                                        ^
Write a condition after HAVING, or leave HAVING out.""",
    ),
    (
        "SELECT carrier, count(*) FROM flights GROUP BY carrier HAVING count(*) > ORDER BY 2",
        """\
ParseError: the HAVING condition is incomplete: > has nothing on its right
  line 1: SELECT carrier, count(*) FROM flights GROUP BY carrier HAVING count(*) > ORDER BY 2
                                                                                   ^""",
    ),
    (
        "SELECT carrier FROM flights\nWHERE\nORDER BY 1",
        """\
ParseError: WHERE has no condition before ORDER BY
  line 3: ORDER BY 1
          ^
Write a condition after WHERE, or leave WHERE out.""",
    ),
    (
        "SELECT carrier, count(*) FROM flights GROUP BY carrier HAVING",
        """\
ParseError: HAVING has no condition
  line 1: SELECT carrier, count(*) FROM flights GROUP BY carrier HAVING
                                                                       ^
Write a condition after HAVING, or leave HAVING out.""",
    ),
    (
        "SELECT * FROM flights WHER dep_delay > 10",
        """\
ParseError: syntax error at WHER
  line 1: SELECT * FROM flights WHER dep_delay > 10
                                ^
Did you mean WHERE?""",
    ),
    (  # the word the engine stops at also comes earlier (DuckDB quotes only the word)
        "SELECT dep_delay FROM flights WHER dep_delay > 10",
        """\
ParseError: syntax error at WHER
  line 1: SELECT dep_delay FROM flights WHER dep_delay > 10
                                        ^
Did you mean WHERE?""",
    ),
    (
        "SELECT *\nFROM flights\nWHER dep_delay > 10",
        """\
ParseError: syntax error at WHER
  line 3: WHER dep_delay > 10
          ^
Did you mean WHERE?""",
    ),
    (
        "SELECT * FROM flights f WHER dep_delay > 10",
        """\
ParseError: syntax error at WHER
  line 1: SELECT * FROM flights f WHER dep_delay > 10
                                  ^
Did you mean WHERE?""",
    ),
    (
        "SELECT * FROM flights WHERE dep_delay > 10 ORDR BY 1",
        """\
ParseError: syntax error at ORDR
  line 1: SELECT * FROM flights WHERE dep_delay > 10 ORDR BY 1
                                                     ^
Did you mean ORDER?""",
    ),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("sql", "shown"), GOLDEN)
def test_slips_point_at_themselves(engine, sql, shown):
    with pytest.raises(ParseError) as err:
        sqlweave.Session(engine).sql(sql, namespace={"flights": FLIGHTS})
    assert err.value.render() == shown


def test_a_condition_that_is_not_true_or_false_names_its_clause():
    # DataFusion plans `HAVING count(*)` and refuses the filter; DuckDB casts it to boolean
    sql = "SELECT carrier, count(*) FROM flights GROUP BY carrier HAVING count(*) ORDER BY 2"
    with pytest.raises(PlanError) as err:
        sqlweave.Session().sql(sql, namespace={"flights": FLIGHTS})
    assert err.value.render() == (
        "PlanError: the HAVING condition count(*) is Int64, not true or false\n"
        f"  line 1: {sql}\n"
        f"  {' ' * len('line 1: ')}{' ' * sql.index('count(*) ORDER')}^\n"
        "Compare it with something, e.g. count(*) > 1."
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_columns_named_like_keywords_are_not_taken_for_misspellings(engine):
    frame = pd.DataFrame({"orders": [1], "limits": [2]})
    for sql in ("SELECT * FROM t WHERE orders 1", "SELECT * FROM t WHERE limits 1"):
        with pytest.raises(ParseError) as err:
            sqlweave.Session(engine).sql(sql, namespace={"t": frame})
        assert "Did you mean" not in err.value.render(), sql
