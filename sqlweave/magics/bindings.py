"""Which notebook variable a ``%sql`` call's result ends up in, read from the running cell.

``%%sql name <<`` names its variable itself. For ``x = %sql ...`` and for a result that
IPython displays (and so binds to ``_``) the magic cannot see the caller; the cell being run
tells: IPython stores its translated text (``x = get_ipython().run_line_magic('sql', ...)``)
in the history before running it, and a top-level assignment or final expression of that
very call gives the name.

>>> binding_in("x = get_ipython().run_line_magic('sql', 'SELECT 1')\\n", "SELECT 1", None)
'x'
>>> binding_in("get_ipython().run_cell_magic('sql', '', 'SELECT 1\\\\n')\\n", "", "SELECT 1\\n")
'_'
"""

from __future__ import annotations

import ast
from typing import Any

from ..lineage.variables import LAST_RESULT

_MAGIC = "sql"


def result_binding(shell: Any, line: str, cell: str | None) -> str | None:
    """The variable the current cell binds this ``%sql`` call's result to, if any.

    Args:
        shell: the InteractiveShell running the cell.
        line: the magic's line (after the ``%sql``/``%%sql``).
        cell: the cell magic's body; None for the line magic.
    """
    history = getattr(shell, "history_manager", None)
    parsed = getattr(history, "input_hist_parsed", None)
    # the running cell is the last one stored (a silent execution is not stored, but then
    # the stored cell would also have to hold this very call, with this very text)
    if not parsed:
        return None
    name = binding_in(parsed[-1], line, cell)
    if name == LAST_RESULT and _quiet(shell, parsed[-1]):
        return None  # a trailing ';' keeps IPython from displaying (and binding) the result
    return name


def running_count(shell: Any) -> int | None:
    """The execution count of the running cell (its ``In [n]``), as the displayhook shows it."""
    hook = getattr(shell, "displayhook", None)
    count = getattr(hook, "prompt_count", None)
    return count if isinstance(count, int) else getattr(shell, "execution_count", None)


def binding_in(translated: str, line: str, cell: str | None) -> str | None:
    """The name a translated cell binds ``run_line_magic('sql', line)`` (or the cell magic) to:
    the target of ``name = <call>``, ``_`` when the call is the cell's last expression."""
    try:
        tree = ast.parse(translated)
    except SyntaxError:
        return None
    for index, statement in enumerate(tree.body):
        if (
            isinstance(statement, ast.Assign)
            and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name)
            and _is_call(statement.value, line, cell)
        ):
            return statement.targets[0].id
        if (
            index == len(tree.body) - 1
            and isinstance(statement, ast.Expr)
            and _is_call(statement.value, line, cell)
        ):
            return LAST_RESULT
    return None


def _is_call(node: ast.expr, line: str, cell: str | None) -> bool:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    method = "run_line_magic" if cell is None else "run_cell_magic"
    expected = [_MAGIC, line] if cell is None else [_MAGIC, line, cell]
    args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
    return node.func.attr == method and args == expected


def _quiet(shell: Any, translated: str) -> bool:
    hook = getattr(shell, "displayhook", None)
    check = getattr(hook, "semicolon_at_end_of_expression", None)
    try:
        return bool(check(translated)) if check is not None else False
    except Exception:  # a tokenizer error: IPython would not have run the cell either
        return False
