"""Recognise data files: their format from a path, directory or glob."""

from __future__ import annotations

import glob
import os

FORMATS = ("parquet", "csv", "json", "arrow")
_EXT = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".ndjson": "json",
    ".jsonl": "json",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}


def expand(path: str) -> list[str]:
    """The data files behind ``path`` (a file, a directory searched recursively, or a glob)."""
    if any(ch in path for ch in "*?["):
        return sorted(p for p in glob.glob(path, recursive=True) if os.path.isfile(p))
    if os.path.isdir(path):
        out = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
            out.extend(os.path.join(root, f) for f in sorted(files) if not f.startswith((".", "_")))
        return out
    return [path] if os.path.isfile(path) else []


def detect_format(path: str, format: str | None = None) -> str:
    """``format`` if given, else the format of the first data file behind ``path``.

    Raises ``FileNotFoundError`` when nothing is there and ``ValueError`` when the
    extension says nothing.
    """
    if format:
        fmt = format.lower()
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {format!r}; expected one of {', '.join(FORMATS)}")
        return fmt
    files = expand(path)
    if not files:
        raise FileNotFoundError(f"no data files at {path}")
    for f in files:
        ext = os.path.splitext(f)[1].lower()
        if ext in _EXT:
            return _EXT[ext]
    raise ValueError(f"cannot tell the format of {path}: name it (parquet, csv, json, arrow)")
