"""Least privilege for SQL: which files a statement may read or write.

Anyone who reaches the coordinator can send SQL, and DataFusion's SQL can name files:
``CREATE EXTERNAL TABLE … LOCATION``, ``COPY … TO``, ``INSERT INTO`` a table backed by
files, ``SET datafusion.runtime.temp_directory``. A :class:`PathPolicy` lets such a path
through only when it resolves inside an allowed root: the coordinator's working
directory, the directories an operator allowed (``--allow-path``, ``$SQLWEAVE_ALLOW_PATHS``,
``LocalCluster(allowed_paths=…)``), and, for reading only, the paths a client registered
through the API (``Session.register`` of a file: the user named that file in Python,
not in SQL text that may come from anywhere).

Where a statement reads or writes is taken from DataFusion's own logical plan of
``EXPLAIN <statement>``, which plans DDL without running it and touches no file, so
comments, quoting or odd spacing cannot hide a location from the check. A path is
resolved the way the file system will: ``file://`` URLs decoded, relative paths taken
from the working directory, ``..`` removed, symlinks followed (both lexically-first and
links-first readings must stay inside), a glob judged by its fixed prefix, and the
symlinks inside a directory that would be listed checked too. Other URL schemes
(``s3://``, ``http://``) are refused: no object store is meant to be reachable from SQL.

DataFusion 55's Python ``SessionContext`` has no URL tables (``SELECT * FROM
'/etc/passwd'``) and no ``read_csv``-style table functions unless enabled, and the
coordinator enables neither, so plain queries name no files.

>>> import os, tempfile
>>> root = os.path.realpath(tempfile.mkdtemp())
>>> policy = PathPolicy(roots=(root,))
>>> policy.check(os.path.join(root, "data", "*.parquet"), Access.READ) == root + "/data"
True
>>> policy.check("/etc/passwd", Access.READ)
Traceback (most recent call last):
...
sqlweave.engines.paths_policy.PathRefused: reading /etc/passwd is not allowed: ...
>>> os.rmdir(root)
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import UsageError

#: extra allowed roots for a coordinator, separated by ``os.pathsep``
ALLOW_ENV = "SQLWEAVE_ALLOW_PATHS"
#: settings naming a directory: spill files are written there; a catalog is listed there
PATH_SETTINGS = ("datafusion.runtime.temp_directory", "datafusion.catalog.location")
#: a statement that is plainly a query (names no file): no comment before it, since
#: DataFusion nests comments and a text scanner that does not could be fooled; not WITH,
#: which SQL also puts before INSERT (DataFusion 55 does not run that yet)
_PLAIN_QUERY = re.compile(r"\s*(\(\s*)*(select|values)\b", re.IGNORECASE)
_GLOB = "*?["


class Access(enum.Enum):
    READ = "reading"
    WRITE = "writing"


class PathRefused(UsageError):
    """A statement named a path outside the allowed roots (nothing was touched)."""


@dataclass(frozen=True)
class Effects:
    """What a statement will change in a policy's table locations once it has run.

    :meth:`PathPolicy.check_statement` finds them before the statement runs;
    :meth:`PathPolicy.apply` records them after it succeeded (a failed or undone
    statement changes nothing).
    """

    #: (table, location) of a file-backed table the statement creates
    located: tuple[tuple[str, str], ...] = ()
    #: tables the statement drops or replaces by one not backed by files
    forgotten: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.located or self.forgotten)


#: plan nodes that drop a table or view, or (re)define one without files
_UNLOCATED = ("DropTable", "DropView", "CreateMemoryTable", "CreateView")


@dataclass
class PathPolicy:
    """Allowed roots and the checks against them.

    Args:
        roots: resolved directories where SQL may read and write.
        registered: resolved paths registered through the API: SQL may read them.
    """

    roots: tuple[str, ...]
    registered: set[str] = field(default_factory=set)
    #: file-backed tables: name -> location (INSERT INTO them writes there)
    locations: dict[str, str] = field(default_factory=dict)

    @classmethod
    def configured(cls, allowed: Iterable[str | os.PathLike[str]] = ()) -> PathPolicy:
        """The working directory, ``allowed`` and ``$SQLWEAVE_ALLOW_PATHS``."""
        extra = [p for p in os.environ.get(ALLOW_ENV, "").split(os.pathsep) if p]
        roots: list[str] = []
        for p in [os.getcwd(), *map(os.fspath, allowed), *extra]:
            real = os.path.realpath(os.path.expanduser(p))
            if real not in roots:
                roots.append(real)
        return cls(tuple(roots))

    def describe(self) -> str:
        return ", ".join(self.roots)

    # ----- single paths -----------------------------------------------------------------

    def check(self, path: str, access: Access) -> str:
        """The resolved fixed part of ``path`` if ``access`` to it is allowed.

        Raises:
            PathRefused: it resolves outside the allowed roots, a symlink under it
                points outside them, or it is a URL of another scheme than ``file``.
        """
        local = _local_path(path)
        allowed = self.roots if access is Access.WRITE else (*self.roots, *self.registered)
        resolved = _resolutions(local)
        for real in resolved:
            if not _inside_any(real, allowed):
                raise self._refused(path, real, access)
        if access is Access.READ:
            # a listing reads through the links under a folder; a write (COPY TO, a temp or
            # INSERT folder) makes new files there and follows none: a project folder with
            # a virtualenv in it stays writable
            for link, target in _links_under(resolved[0]):
                if not _inside_any(target, allowed):
                    raise self._refused(path, target, access, via=link)
        return resolved[0]

    def _refused(self, path: str, real: str, access: Access, via: str | None = None) -> PathRefused:
        where = f"{path}" if real == path else f"{path} (resolves to {real})"
        if via is not None:
            where = f"{path} (through the symlink {via} -> {real})"
        how = "--allow-path DIR, LocalCluster(allowed_paths=[...])"
        if access is Access.READ:
            how += " or register the file through the API"
        return PathRefused(
            f"{access.value} {where} is not allowed: SQL may only use files under the "
            f"allowed paths ({self.describe()}); to allow more: {how}"
        )

    def register(self, name: str, path: str) -> None:
        """``path`` was registered as table ``name`` through the API: SQL may read it."""
        local = _local_path(path)
        self.registered.add(_resolutions(local)[0])
        self.locations[_short(name)] = local

    def forget(self, name: str) -> None:
        """Table ``name`` was dropped or deregistered: writes to its name go nowhere it went."""
        self.locations.pop(_short(name), None)

    def apply(self, effects: Effects) -> None:
        """Record what a statement that succeeded changed (see :meth:`check_statement`)."""
        for name in effects.forgotten:
            self.forget(name)
        for name, location in effects.located:
            self.locations[name] = location

    # ----- statements -------------------------------------------------------------------

    def check_statement(self, ctx: Any, sql: str) -> Effects:
        """Refuse ``sql`` if it reads or writes a path outside the allowed roots.

        ``ctx`` is the DataFusion context the statement will run in (its tables and
        prepared statements). A statement DataFusion cannot plan there is let through:
        running it fails the same way, before any file is opened.

        Returns:
            what the statement changes in the table locations: hand it to :meth:`apply`
            once the statement succeeded.
        """
        if _PLAIN_QUERY.match(sql):
            return Effects()  # about 1 ms of planning saved per query: queries read tables only
        plan = _plan(ctx, sql)
        if plan is None:
            return Effects()
        located: list[tuple[str, str]] = []
        forgotten: list[str] = []
        for node in _walk(plan):
            variant = node.to_variant()
            kind = type(variant).__name__
            if kind == "CreateExternalTable":
                name = _short(str(variant.name()))
                forgotten.append(name)
                for location in _locations(variant):
                    self.check(location, Access.READ)
                    located.append((name, _local_path(location)))
            elif kind in _UNLOCATED:
                # CREATE … IF NOT EXISTS of a table that exists leaves it as it was
                if not getattr(variant, "if_not_exists", lambda: False)():
                    forgotten.append(_short(str(variant.name())))
            elif kind == "CopyTo":
                self.check(variant.output_url(), Access.WRITE)
            elif kind == "DmlStatement":
                location = self.locations.get(_short(str(variant.table_name())))
                if location is not None:
                    self.check(location, Access.WRITE)
            elif kind == "SetVariable" and variant.variable().lower() in PATH_SETTINGS:
                self.check(variant.value(), Access.WRITE)
        return Effects(tuple(located), tuple(forgotten))


def _plan(ctx: Any, sql: str) -> Any | None:
    """DataFusion's logical plan of ``sql`` without running it (DDL included)."""
    from datafusion import SQLOptions

    try:  # EXPLAIN plans DDL and SET without carrying them out
        return ctx.sql(f"EXPLAIN {sql}").logical_plan()
    except Exception:
        pass
    # an EXPLAIN [ANALYZE] statement itself: lazy as long as no DDL or SET runs
    lazy = SQLOptions().with_allow_ddl(False).with_allow_statements(False)
    try:
        return ctx.sql(sql, options=lazy).logical_plan()
    except Exception:
        return None


def _walk(plan: Any) -> Iterator[Any]:
    stack = [plan]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.inputs())


def _locations(variant: Any) -> Sequence[str]:
    with_many = getattr(variant, "locations", None)
    many = list(with_many()) if with_many is not None else []
    return many or [variant.location()]


def _short(name: str) -> str:
    """A table name without catalog and schema (resolved names are already folded)."""
    return name.rsplit(".", 1)[-1].strip('"')


def _local_path(path: str) -> str:
    """``path`` as a local file system path; other URL schemes are refused."""
    parts = urlsplit(path)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise PathRefused(f"{path} is not allowed: file URLs may not name another host")
        return unquote(parts.path)
    if len(parts.scheme) > 1 and "://" in path:
        raise PathRefused(
            f"{path} is not allowed: SQL may only use local files, not {parts.scheme}:// URLs"
        )
    return path


def _resolutions(path: str) -> list[str]:
    """Where ``path`` (its fixed prefix, for a glob) can land: links first, and ``..``
    removed first; the first one is the links-first reading."""
    cut = min((i for i, ch in enumerate(path) if ch in _GLOB), default=None)
    if cut is not None:
        path = os.path.dirname(path[:cut]) or "."
    absolute = os.path.join(os.getcwd(), path)
    out = [os.path.realpath(absolute)]
    lexical = os.path.realpath(os.path.normpath(absolute))
    if lexical != out[0]:
        out.append(lexical)
    return out


def _links_under(directory: str) -> Iterator[tuple[str, str]]:
    """(link, target) for every symlink a listing of ``directory`` would follow."""
    if not os.path.isdir(directory):
        return
    for top, dirs, files in os.walk(directory):
        for name in (*dirs, *files):
            full = os.path.join(top, name)
            if os.path.islink(full):
                yield full, os.path.realpath(full)


def _inside_any(path: str, roots: Iterable[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)
