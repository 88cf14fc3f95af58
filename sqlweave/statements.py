"""Split a SQL script into statements and say what each one does.

Splitting uses sqlglot's tokenizer, so semicolons inside strings, quoted
identifiers and comments never split a statement.

>>> [s.text for s in split("CREATE TABLE t AS SELECT 1 AS a; SELECT ';' FROM t")]
['CREATE TABLE t AS SELECT 1 AS a', "SELECT ';' FROM t"]
>>> split("INSERT INTO t VALUES (1)")[0].kind
<Kind.INSERT: 'insert'>

Finer questions about one statement (what a distributed engine routes on) are functions
of its tokens: :func:`explained`, :func:`reads_only`, :func:`is_setting`,
:func:`selects_into`, :func:`external_table`, and :attr:`Statement.table`; the tables a
statement reads (what the session matches notebook DataFrames against) are :func:`tables_read`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from sqlglot.dialects import Dialect
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType


class Kind(str, Enum):
    """What a statement does, as the notebook reports it."""

    QUERY = "query"
    CREATE_TABLE = "create table"
    CREATE_VIEW = "create view"
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    DROP = "drop"
    OTHER = "other"


@dataclass(frozen=True)
class Statement:
    """One statement of a script: its text, where it starts, and its tokens."""

    text: str
    start: int  # 0-based offset of ``text`` inside the script
    kind: Kind
    target: str | None  # table/view created, inserted into, dropped...
    tokens: tuple[Token, ...] = ()

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    @property
    def table(self) -> str | None:
        """The target's own name as an engine that folds unquoted names to lower case
        (DataFusion, PostgreSQL) registers it: without catalog and schema.

        >>> split('DROP TABLE Sales."Orders"')[0].table, split("DROP TABLE Sales.Orders")[0].table
        ('Orders', 'orders')
        """
        keywords = _TARGET_AFTER.get(self.kind)
        if keywords is None or self.target is None:
            return None
        return _name_after(list(self.tokens), keywords, fold=True)


@lru_cache(maxsize=8)
def _tokenizer(dialect: str):
    return Dialect.get_or_raise(dialect).tokenizer_class()


def tokenize(text: str, dialect: str = "postgres") -> list[Token] | None:
    """Tokens of ``text``, or ``None`` when the tokenizer cannot read it."""
    try:
        return _tokenizer(dialect).tokenize(text)
    except (TokenError, ValueError, IndexError):
        return None


def expand_commands(
    sql: str, tokens: list[Token] | tuple[Token, ...], base: int = 0
) -> list[Token]:
    """``tokens`` with the text sqlglot keeps whole after a command word (``EXPLAIN …``
    arrives as COMMAND plus one STRING) tokenized too, at its place in ``sql``.

    ``tokens`` may come from a larger script in which ``sql`` starts at offset ``base``.

    >>> [t.text for t in expand_commands("EXPLAIN SELECT :x", tokenize("EXPLAIN SELECT :x"))]
    ['EXPLAIN', 'SELECT', ':', 'x']
    """
    out: list[Token] = []
    skip = False
    for tok, nxt in zip(tokens, [*tokens[1:], None]):
        if skip:
            skip = False
            continue
        out.append(tok)
        if tok.token_type is not TokenType.COMMAND or nxt is None:
            continue
        if nxt.token_type is not TokenType.STRING:
            continue
        at = sql.find(nxt.text, tok.end + 1 - base)
        inner = tokenize(nxt.text) if at >= 0 else None
        if inner is None:
            continue
        shift = at + base
        out.extend(
            Token(t.token_type, t.text, t.line, t.col, t.start + shift, t.end + shift, t.comments)
            for t in inner
        )
        skip = True
    return out


_QUERY_STARTS = {
    TokenType.SELECT,
    TokenType.WITH,
    TokenType.VALUES,
    TokenType.L_PAREN,
    TokenType.FROM,
    TokenType.SHOW,
    TokenType.DESCRIBE,
    TokenType.TABLE,
}
_QUERY_WORDS = {"EXPLAIN", "SHOW", "DESCRIBE", "DESC", "SUMMARIZE", "PIVOT", "UNPIVOT"}


def split(script: str, dialect: str = "postgres") -> list[Statement]:
    """Statements of ``script`` (empty ones dropped), each with its offset and kind."""
    tokens = tokenize(script, dialect)
    if tokens is None:  # unreadable: hand the whole text to the engine, which reports the error
        text = script.strip().rstrip(";")
        return [Statement(text, script.find(text), Kind.OTHER, None)] if text else []
    statements: list[Statement] = []
    current: list[Token] = []
    for tok in [*tokens, None]:
        if tok is not None and tok.token_type != TokenType.SEMICOLON:
            current.append(tok)
            continue
        if current:
            start = current[0].start  # a quoted token's start includes its quote
            end = current[-1].end + 1
            kind, target = classify(current)
            statements.append(Statement(script[start:end], start, kind, target, tuple(current)))
        current = []
    return statements


#: the keywords a statement's target name follows, by kind
_TARGET_AFTER: dict[Kind, set[str]] = {
    Kind.INSERT: {"INTO", "TABLE", "OVERWRITE"},
    Kind.UPDATE: {"UPDATE"},
    Kind.DELETE: {"FROM"},
    Kind.CREATE_VIEW: {"VIEW", "EXISTS"},
    Kind.CREATE_TABLE: {"TABLE", "EXISTS"},
    Kind.DROP: {"TABLE", "VIEW", "EXISTS"},
}


def classify(tokens: list[Token] | tuple[Token, ...]) -> tuple[Kind, str | None]:
    """Kind of the statement made of ``tokens`` and the object it targets, if any."""
    words = [t.text.upper() for t in tokens[:8]]
    first = tokens[0].token_type if tokens else None
    if first in _QUERY_STARTS or (words and words[0] in _QUERY_WORDS):
        return Kind.QUERY, None
    if first == TokenType.INSERT or (words and words[0] == "INSERT"):
        return Kind.INSERT, _name_after(tokens, _TARGET_AFTER[Kind.INSERT])
    if first == TokenType.UPDATE:
        return Kind.UPDATE, _name_after(tokens, _TARGET_AFTER[Kind.UPDATE])
    if first == TokenType.DELETE:
        return Kind.DELETE, _name_after(tokens, _TARGET_AFTER[Kind.DELETE])
    if first == TokenType.CREATE:
        if "VIEW" in words:
            return Kind.CREATE_VIEW, _name_after(tokens, _TARGET_AFTER[Kind.CREATE_VIEW])
        if "TABLE" in words:
            return Kind.CREATE_TABLE, _name_after(tokens, _TARGET_AFTER[Kind.CREATE_TABLE])
    if first == TokenType.DROP:
        return Kind.DROP, _name_after(tokens, _TARGET_AFTER[Kind.DROP])
    return Kind.OTHER, None


def _name_after(
    tokens: list[Token] | tuple[Token, ...], keywords: set[str], fold: bool = False
) -> str | None:
    """The dotted name following the last of ``keywords`` among the leading tokens
    (with ``fold``: its last part only, lower case unless quoted)."""
    idx = -1
    for i, tok in enumerate(tokens[:12]):
        if tok.text.upper() in keywords and tok.token_type not in (
            TokenType.STRING,
            TokenType.IDENTIFIER,
        ):
            idx = i
    if idx < 0:
        return None
    parts: list[str] = []
    for tok in tokens[idx + 1 :]:
        if tok.token_type == TokenType.DOT:
            continue
        if tok.token_type in (TokenType.VAR, TokenType.IDENTIFIER, TokenType.STRING) or (
            tok.text.isidentifier() and tok.text.upper() not in {"IF", "NOT", "EXISTS", "AS"}
        ):
            quoted = tok.token_type == TokenType.IDENTIFIER
            parts.append(tok.text if quoted or not fold else tok.text.lower())
            nxt = tokens.index(tok) + 1
            if nxt < len(tokens) and tokens[nxt].token_type == TokenType.DOT:
                continue
        break
    if fold:
        return parts[-1] if parts else None
    return ".".join(parts) or None


# ----- finer questions about one statement ------------------------------------------------


def name_after(stmt: Statement, keywords: set[str]) -> str | None:
    """The name following the last of ``keywords`` (upper case) among ``stmt``'s leading
    tokens, as :attr:`Statement.table` names it.

    >>> name_after(split("TRUNCATE TABLE Sales.Orders")[0], {"TRUNCATE", "TABLE"})
    'orders'
    """
    return _name_after(list(stmt.tokens), keywords, fold=True)


#: words that may follow EXPLAIN before the statement explained, alone or with the next word
_EXPLAIN_WORDS = {"ANALYZE", "VERBOSE"}
_EXPLAIN_PAIRS = {"QUERY": "PLAN", "FORMAT": None}  # None: any word
#: formats DataFusion names without FORMAT (``EXPLAIN TREE …``), kept for the routing's sake
_EXPLAIN_FORMATS = {"TEXT", "INDENT", "TREE", "PGJSON", "GRAPHVIZ", "JSON"}


def explained(stmt: Statement) -> Statement | None:
    """The statement an ``EXPLAIN [ANALYZE] [VERBOSE] [QUERY PLAN] [FORMAT x | (options)]``
    explains, at its place in ``stmt``'s script; ``None`` when ``stmt`` is no EXPLAIN.

    >>> inner = explained(split("EXPLAIN ANALYZE /* why */ SELECT 1")[0])
    >>> inner.text, inner.start, inner.kind
    ('SELECT 1', 26, <Kind.QUERY: 'query'>)
    >>> explained(split("EXPLAIN (ANALYZE, FORMAT JSON) SELECT 1")[0]).text
    'SELECT 1'
    >>> explained(split("EXPLAIN (SELECT 1)")[0]).text
    '(SELECT 1)'
    """
    tokens = stmt.tokens
    if not tokens or tokens[0].text.upper() != "EXPLAIN":
        return None
    inner = expand_commands(stmt.text, tokens, stmt.start)[1:]
    while inner:
        word = inner[0].text.upper()
        second = inner[1].text.upper() if len(inner) > 1 else None
        if word in _EXPLAIN_WORDS or word in _EXPLAIN_FORMATS:
            inner = inner[1:]
        elif word in _EXPLAIN_PAIRS and second and _EXPLAIN_PAIRS[word] in (None, second):
            inner = inner[2:]
        elif _option_list_end(inner):
            inner = inner[_option_list_end(inner) :]
        else:
            break
    if not inner:
        return None
    start = inner[0].start
    kind, target = classify(inner)
    return Statement(stmt.text[start - stmt.start :], start, kind, target, tuple(inner))


def _option_list_end(tokens: list[Token]) -> int:
    """Where PostgreSQL's ``(option [value], …)`` opening ``tokens`` ends; 0 when they open
    with something else, such as a parenthesized query."""
    if len(tokens) < 2 or tokens[0].token_type is not TokenType.L_PAREN:
        return 0
    if tokens[1].token_type in _QUERY_STARTS:
        return 0
    closing = (i for i, t in enumerate(tokens) if t.token_type is TokenType.R_PAREN)
    return next(closing, -1) + 1


#: what a statement that only reads starts with (after opening parentheses)
_READS = {TokenType.SELECT, TokenType.WITH, TokenType.VALUES}


def reads_only(stmt: Statement) -> bool:
    """Whether ``stmt`` is a plain query: SELECT, WITH or VALUES, changing nothing
    (no ``SELECT … INTO``, no ``WITH … INSERT``).

    >>> [reads_only(s) for s in split("((SELECT 1)); SELECT 'into' AS x; SELECT 1 INTO t; SHOW ALL")]
    [True, True, False, False]
    """
    first = next((t for t in stmt.tokens if t.token_type != TokenType.L_PAREN), None)
    if first is None or first.token_type not in _READS:
        return False
    writes = {TokenType.INTO, TokenType.INSERT, TokenType.UPDATE, TokenType.DELETE}
    return not any(t.token_type in writes for t in stmt.tokens)


def is_setting(stmt: Statement) -> bool:
    """Whether ``stmt`` changes a session setting (``SET``, ``RESET``).

    >>> [is_setting(s) for s in split("/* x */ SET a.b = 1; RESET a.b; SELECT 1")]
    [True, True, False]
    """
    return bool(stmt.tokens) and stmt.tokens[0].text.upper() in ("SET", "RESET")


def selects_into(stmt: Statement) -> str | None:
    """The table a ``SELECT … INTO t`` creates, named as :attr:`Statement.table` names.

    >>> selects_into(split('SELECT * INTO "Copy" FROM t')[0]), selects_into(split("SELECT 1")[0])
    ('Copy', None)
    """
    first = next((t for t in stmt.tokens if t.token_type != TokenType.L_PAREN), None)
    if first is None or first.token_type not in _READS:
        return None
    types = {t.token_type for t in stmt.tokens}
    if TokenType.INTO not in types or types & {TokenType.INSERT, TokenType.UPDATE}:
        return None
    return _name_after(list(stmt.tokens), {"INTO"}, fold=True)


@dataclass(frozen=True)
class ExternalTable:
    """What a ``CREATE EXTERNAL TABLE`` declares, read from its tokens (so a comment
    cannot pass for a location)."""

    name: str  # as :attr:`Statement.table` names it
    format: str  # upper case: PARQUET, CSV...
    location: str
    #: it declares more than files and a format (columns, options, partitioning,
    #: order, compression, CSV header or delimiter, unbounded): a reader that only
    #: knows the files would not honour it
    declared: bool


_DECLARING = {"OPTIONS", "PARTITIONED", "ORDER", "COMPRESSION", "DELIMITER", "HEADER", "UNBOUNDED"}


def external_table(stmt: Statement) -> ExternalTable | None:
    """What ``stmt`` declares, when it is a ``CREATE EXTERNAL TABLE``.

    >>> external_table(split(
    ...     "CREATE EXTERNAL TABLE T STORED AS PARQUET /* LOCATION 'x' */ LOCATION 'd/'")[0])
    ExternalTable(name='t', format='PARQUET', location='d/', declared=False)
    >>> external_table(split("CREATE EXTERNAL TABLE t (a INT) STORED AS CSV LOCATION 'a.csv'")[0]
    ...     ).declared
    True
    """
    tokens = stmt.tokens
    head = [t.text.upper() for t in tokens[:8]]
    if not tokens or tokens[0].token_type != TokenType.CREATE or "EXTERNAL" not in head:
        return None
    if "TABLE" not in head or stmt.table is None:
        return None
    words = [t.text.upper() if t.token_type != TokenType.STRING else "" for t in tokens]
    try:
        fmt = tokens[words.index("STORED") + 2].text.upper()
        location = tokens[words.index("LOCATION") + 1]
    except (ValueError, IndexError):
        return None
    if location.token_type != TokenType.STRING:
        return None
    name_at = next(i for i, w in enumerate(words) if w == "TABLE")
    after_name = next(
        (
            t
            for t in tokens[name_at + 1 :]
            if t.text.upper() not in {"IF", "NOT", "EXISTS"}
            and t.token_type not in (TokenType.VAR, TokenType.IDENTIFIER, TokenType.DOT)
        ),
        None,
    )
    declared = bool(_DECLARING & set(words)) or (
        after_name is not None and after_name.token_type == TokenType.L_PAREN
    )
    return ExternalTable(stmt.table, fmt, location.text, declared)


# ----- what a statement reads ---------------------------------------------------------------


def tables_read(stmt: Statement, dialect: str = "postgres") -> set[str]:
    """Unqualified names of the tables ``stmt`` reads (for ``EXPLAIN <statement>``, those the
    explained statement reads); never its target, nor a CTE. When sqlglot cannot parse the
    statement, any name among its tokens may be a table.

    >>> sorted(tables_read(split("WITH c AS (SELECT 1) INSERT INTO t SELECT * FROM c, s.u, v")[0]))
    ['v']
    >>> sorted(tables_read(split("EXPLAIN ANALYZE SELECT * FROM a JOIN b USING (k)")[0]))
    ['a', 'b']
    """
    inner = explained(stmt)
    text = stmt.text if inner is None else inner.text
    names = _parsed_reads(text, dialect) if len(text) <= _KEPT_TEXT else _reads(text, dialect)
    if names is None:
        return {t.text for t in stmt.tokens} - {stmt.target}
    return set(names)


def _reads(text: str, dialect: str) -> frozenset[str] | None:
    """:func:`tables_read` of one statement's text; ``None`` if sqlglot cannot parse it."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(text, read=dialect)
    except Exception:  # any parse failure: the caller falls back to the tokens
        return None
    if tree is None or isinstance(tree, exp.Drop):  # a drop only names targets
        return frozenset()
    targets: set[int] = set()
    if isinstance(tree, (exp.Create, exp.Insert, exp.Delete, exp.Update, exp.Merge)):
        target = tree.this
        if isinstance(target, exp.Schema):
            target = target.this
        if isinstance(target, exp.Table):
            targets.add(id(target))
    ctes = {c.alias for c in tree.find_all(exp.CTE)}
    return frozenset(
        t.name
        for t in tree.find_all(exp.Table)
        if not t.db and t.name not in ctes and id(t) not in targets
    )


#: :func:`_reads`, kept per text: parsing was a third of a small DuckDB statement's own
#: overhead, and a notebook runs the same cells again (texts up to ``_KEPT_TEXT`` chars)
_parsed_reads = lru_cache(maxsize=256)(_reads)
_KEPT_TEXT = 10_000
