"""Refuse statements deep or large enough to crash an engine, before any engine sees them.

DataFusion plans and evaluates expressions recursively on native stacks, and a flat chain
(``a OR b OR …``, ``1+1+…``) is as deep to it as nested parentheses: its parser builds a
left-deep tree, and only OR chains of equalities on one column get flattened (into IN
lists). Measured with datafusion 55 on this machine (in child processes):

- evaluating ``x < 0 OR x < -1 OR …`` on DataFusion's runtime threads at their Rust default
  of 2 MiB segfaulted between 2,500 and 3,000 terms; with 32 MiB it ran 3,000 (and
  :func:`~sqlweave.native_runtime.set_runtime_defaults` gives every sqlweave process that size);
- planning ``SELECT 1+1+…+1`` segfaulted past about 9,000 terms on an 8 MiB thread (the
  cluster coordinator's), far past that on the 64 MiB engine thread;
- planning a chain of 6,000 ``SELECT … UNION ALL`` died on an 8 MiB thread (3,000 ran);
- DuckDB refuses expressions deeper than 1,000 itself, with a clear error, and flattens
  AND/OR chains; a UNION ALL chain of 20,000 ran on it (in 4 minutes).

So this module estimates the depth of the expression trees a statement will produce from
its tokens, with operator precedence, and refuses anything deeper than :data:`MAX_DEPTH`
(2,000: 4.5x below the smallest crash depth on the threads sqlweave plans and runs on),
or :data:`SMALL_STACK_MAX_DEPTH` when DataFusion's runtime was started before sqlweave could
enlarge its stacks. Deep chains also plan slowly (quadratic: a 2,000-term ``x+x+…`` chain
took about a minute on 2 busy cores), one more reason for a limit. Every engine runs behind
it: the Session checks every statement and the coordinator checks every request, whichever
client sent it.

>>> check("SELECT " + "+".join(["1"] * 10))
>>> check("SELECT " + "+".join(["1"] * 5000), max_depth=2000)
Traceback (most recent call last):
...
sqlweave.errors.LimitError: expression nested deeper than 2,000 levels (line 1, column 4009) ...
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlglot.tokens import Token, TokenType

from .errors import LimitError, Position
from .native_runtime import set_runtime_defaults
from .statements import expand_commands, tokenize

#: deepest expression tree admitted (operators on the longest path, leaves count 1)
MAX_DEPTH = 2000
#: levels one UNION/INTERSECT/EXCEPT counts for: planning a chain of them costs more stack
#: than an operator (a 6,000-SELECT UNION ALL died planning on an 8 MiB thread, the
#: coordinator's, where 3,000 ran), so chains of more than 1,000 are refused
SET_OPERATION_DEPTH = 2
#: the limit when DataFusion's runtime threads kept Rust's 2 MiB default stack
SMALL_STACK_MAX_DEPTH = 1000
#: longest script admitted; tokenizing costs about 0.3 s per MB before any engine starts
MAX_SCRIPT_CHARS = 16 * 1024 * 1024
#: stack for the threads that run engines: a statement the guard admits needs far less
#: (measured: about 1 KB per level while planning), the rest is address space only
ENGINE_STACK_BYTES = 64 * 1024 * 1024

_DEPTH_HELP = (
    "sqlweave refuses deeper expressions so that no engine overflows its stack; "
    "split the expression or move the terms into a table"
)

#: binary operators and their precedence (higher binds tighter), as in PostgreSQL
_BINARY = {
    TokenType.OR: 1,
    TokenType.XOR: 1,
    TokenType.AND: 2,
    **dict.fromkeys(
        (
            TokenType.EQ,
            TokenType.NEQ,
            TokenType.NULLSAFE_EQ,
            TokenType.LT,
            TokenType.LTE,
            TokenType.GT,
            TokenType.GTE,
            TokenType.IS,
            TokenType.LIKE,
            TokenType.ILIKE,
            TokenType.IN,
            TokenType.BETWEEN,
            TokenType.SIMILAR_TO,
            TokenType.RLIKE,
            TokenType.GLOB,
        ),
        4,
    ),
    **dict.fromkeys(
        (
            TokenType.DPIPE,
            TokenType.AMP,
            TokenType.PIPE,
            TokenType.ARROW,
            TokenType.DARROW,
            TokenType.HASH_ARROW,
            TokenType.DHASH_ARROW,
        ),
        5,
    ),
    TokenType.PLUS: 6,
    TokenType.DASH: 6,
    TokenType.STAR: 7,
    TokenType.SLASH: 7,
    TokenType.MOD: 7,
    TokenType.DIV: 7,
    TokenType.CARET: 8,
    TokenType.DCOLON: 9,
}
#: operators that may also stand before an operand
_PREFIX = {TokenType.NOT, TokenType.DASH, TokenType.PLUS}
_SET_OPERATIONS = {TokenType.UNION, TokenType.INTERSECT, TokenType.EXCEPT}
_OPENERS = {TokenType.L_PAREN: TokenType.R_PAREN, TokenType.L_BRACKET: TokenType.R_BRACKET}
_CASE_OPEN, _CASE_CLOSE = TokenType.CASE, TokenType.END
#: tokens that end one expression and start another at the same nesting level
_BREAKS = {
    TokenType.COMMA,
    TokenType.SEMICOLON,
    TokenType.SELECT,
    TokenType.FROM,
    TokenType.WHERE,
    TokenType.GROUP_BY,
    TokenType.HAVING,
    TokenType.ORDER_BY,
    TokenType.LIMIT,
    TokenType.OFFSET,
    TokenType.ON,
    TokenType.USING,
    TokenType.JOIN,
    TokenType.WHEN,
    TokenType.THEN,
    TokenType.ELSE,
    TokenType.WITH,
    TokenType.VALUES,
    TokenType.SET,
    TokenType.RETURNING,
    TokenType.QUALIFY,
    TokenType.WINDOW,
}


#: set once, when sqlweave is imported (before any engine ran a query)
_MAX_DEPTH = MAX_DEPTH if set_runtime_defaults() else SMALL_STACK_MAX_DEPTH


def max_depth() -> int:
    """The depth limit in force in this process: :data:`SMALL_STACK_MAX_DEPTH` when
    DataFusion's runtime threads kept small stacks (see
    :func:`~sqlweave.native_runtime.set_runtime_defaults`)."""
    return _MAX_DEPTH


def check_script(script: str) -> None:
    """Refuse a script longer than :data:`MAX_SCRIPT_CHARS` (before it is tokenized)."""
    if len(script) > MAX_SCRIPT_CHARS:
        raise LimitError(
            f"the script is {len(script) / 1e6:,.1f} MB; the limit is "
            f"{MAX_SCRIPT_CHARS / 1e6:,.1f} MB: load data from a file or a DataFrame instead",
        )


def check(
    sql: str,
    tokens: Sequence[Token] | None = None,
    base: int = 0,
    max_depth: int | None = None,
) -> None:
    """Raise ``LimitError`` (with the position) if ``sql`` is too large or too deep.

    ``tokens`` may come from a larger script in which ``sql`` starts at offset ``base``;
    ``max_depth`` defaults to :func:`max_depth`.
    """
    max_depth = max_depth or _MAX_DEPTH
    check_script(sql)
    toks = list(tokens) if tokens else tokenize(sql)
    if toks is None:
        _check_text(sql, max_depth)
        return
    toks = expand_commands(sql, toks, base if tokens else 0)
    at = _too_deep(toks, max_depth)
    if at is not None:
        raise LimitError(
            f"expression nested deeper than {max_depth:,} levels",
            sql=sql,
            position=Position.from_offset(sql, at.start - base),
            hint=_DEPTH_HELP,
        )


@dataclass
class _Level:
    """One nesting level (parentheses, brackets, CASE…END): a precedence parse of its
    current expression, kept as operand depths and pending operator precedences."""

    closer: TokenType | None
    operands: list[int] = field(default_factory=list)
    operators: list[int] = field(default_factory=list)
    expect_operand: bool = True
    prefix: int = 0  # unary operators waiting for their operand
    between: int = 0  # BETWEENs whose AND is still to come
    set_operations: int = 0
    deepest: int = 0

    def reduce(self, above: int) -> int:
        """Apply pending operators binding at least as tightly as ``above``; the deepest
        tree built."""
        while self.operators and self.operators[-1] >= above and len(self.operands) >= 2:
            self.operators.pop()
            right = self.operands.pop()
            self.operands[-1] = 1 + max(self.operands[-1], right)
            self.deepest = max(self.deepest, self.operands[-1])
        return self.deepest

    def operand(self, depth: int) -> int:
        if self.expect_operand:
            self.operands.append(depth + self.prefix)
        elif self.operands:  # `x AS y`, `f(…)`, `IS NULL`: part of the same operand
            self.operands[-1] = max(self.operands[-1], depth)
        else:
            self.operands.append(depth)
        self.prefix = 0
        self.expect_operand = False
        self.deepest = max(self.deepest, self.operands[-1])
        return self.deepest

    def end_expression(self) -> int:
        self.reduce(0)
        self.operands.clear()
        self.operators.clear()
        self.expect_operand, self.prefix, self.between = True, 0, 0
        return self.deepest

    def result(self) -> int:
        return self.end_expression() + SET_OPERATION_DEPTH * self.set_operations


def _too_deep(tokens: Sequence[Token], max_depth: int) -> Token | None:
    """The token at which the expression depth first exceeds ``max_depth``, if any."""
    levels = [_Level(None)]
    for tok in tokens:
        kind = tok.token_type
        level = levels[-1]
        if kind in _OPENERS or kind is _CASE_OPEN:
            levels.append(_Level(_OPENERS.get(kind, _CASE_CLOSE)))
            if len(levels) > max_depth:
                return tok
            continue
        if kind is level.closer:
            levels.pop()
            depth = levels[-1].operand(level.result() + 1)
        elif kind in _BREAKS:
            depth = level.end_expression()
        elif kind in _SET_OPERATIONS:
            level.end_expression()
            level.set_operations += 1
            depth = level.deepest + SET_OPERATION_DEPTH * level.set_operations
        elif level.expect_operand and kind in _PREFIX:
            level.prefix += 1
            depth = level.prefix
        elif not level.expect_operand and kind in _BINARY:
            precedence = _BINARY[kind]
            if kind is TokenType.BETWEEN:
                level.between += 1
            elif kind is TokenType.AND and level.between:
                level.between -= 1
                precedence = _BINARY[TokenType.BETWEEN]
            depth = level.reduce(precedence)
            level.operators.append(precedence)
            level.expect_operand = True
        elif not level.expect_operand and kind is TokenType.NOT:
            continue  # NOT LIKE, NOT IN, IS NOT: part of the operator
        else:
            depth = level.operand(1)
        if depth + len(levels) - 1 > max_depth:
            return tok
    if tokens and levels[0].result() > max_depth:  # the last operators reduce at the end
        return tokens[-1]
    return None


def _check_text(sql: str, max_depth: int) -> None:
    """For text the tokenizer cannot read (the engine will report why): an upper bound
    from characters alone, parenthesis nesting plus operator characters."""
    operators = sum(sql.count(c) for c in "+-*/%|&^<>=")
    nesting = deepest = 0
    for c in sql:
        if c == "(":
            nesting += 1
            deepest = max(deepest, nesting)
        elif c == ")":
            nesting -= 1
    if operators + deepest > max_depth:
        raise LimitError(
            f"expression nested deeper than {max_depth:,} levels", sql=sql, hint=_DEPTH_HELP
        )
