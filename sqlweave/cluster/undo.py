"""Undo for statements the coordinator runs itself, so a cancel can mean cancel.

DataFusion cannot stop a statement running on a thread. When a client cancels one
that changes a table (CREATE TABLE AS, INSERT, DROP, ...), the coordinator lets it run
to its end and then puts the table back as it was: :meth:`Undo.before` records the
table's provider (and, for statements that change rows in place, its rows), and
:meth:`Undo.rollback` restores them. Which statements are undone, and that the client
hears the truth about it, is the coordinator's business (:mod:`.coordinator`).

>>> from datafusion import SessionContext
>>> ctx = SessionContext()
>>> undo = Undo.before(ctx, "t", rows_in_place=False)
>>> _ = ctx.sql("create table t as select 1 as x").collect()
>>> undo.rollback()
>>> ctx.table_exist("t")
False
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

#: verbs that change a table's rows in place (its provider stays the same object)
IN_PLACE = ("insert", "delete", "update", "truncate")


@dataclass
class Undo:
    """How to put table ``name`` of ``ctx`` back as it was before one statement."""

    ctx: Any  # datafusion.SessionContext
    name: str
    provider: Any | None  # the table before (None: it did not exist)
    rows: pa.Table | None  # its rows before a statement that changes them in place

    @classmethod
    def before(cls, ctx: Any, name: str, rows_in_place: bool) -> Undo:
        """Record ``name`` before a statement writes it (rows too when ``rows_in_place``)."""
        provider = rows = None
        if ctx.table_exist(name):
            provider = ctx.catalog().schema().table(name)
            if rows_in_place:
                rows = ctx.table(name).to_arrow_table()
        return cls(ctx, name, provider, rows)

    def rollback(self) -> None:
        """Put the table back: drop what the statement made, restore what it replaced."""
        with contextlib.suppress(Exception):
            self.ctx.deregister_table(self.name)
        if self.rows is not None:
            self.ctx.register_record_batches(self.name, [self.rows.to_batches()])
        elif self.provider is not None:
            self.ctx.register_table(self.name, self.provider)
