"""DataFusion's errors reach the user as sqlweave's error classes with DataFusion's message."""

from __future__ import annotations

import pytest

import sqlweave
from sqlweave.errors import ExecutionError, ParseError


@pytest.mark.parametrize(
    ("sql", "kind", "message"),
    [
        ("SELECT 1/0", ExecutionError, "Divide by zero error"),
        ("SELECT CAST('a' AS INT)", ExecutionError, "Cast error: Cannot cast string 'a'"),
        ("SELECT 'abc", ParseError, "Unterminated string literal"),
    ],
)
def test_datafusion_error_classes(sql, kind, message):
    with pytest.raises(kind) as err:
        sqlweave.Session().sql(sql)
    assert str(err.value).startswith(message)
