"""Column names of local data files a statement names (``'data/x.parquet'``,
``read_csv('y.csv')``), for lineage to expand ``SELECT *`` over files.

Only the file's metadata is read: a parquet/Arrow footer, or the first block of a CSV/JSON file.
Anything that is not a readable local file gives None.

>>> columns_of_file("no/such/file.parquet") is None
True
"""

from __future__ import annotations

import glob
import io
import os

_READERS = {
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".ndjson": "json",
    ".jsonl": "json",
}


def looks_like_file(text: str) -> bool:
    """Whether a quoted name is a data file path (cheap: no file system access).

    >>> looks_like_file("data/x.parquet"), looks_like_file("orders")
    (True, False)
    """
    return os.path.splitext(text)[1].lower() in _READERS or ("/" in text and "://" not in text)


def columns_of_file(path: str) -> list[str] | None:
    """The columns of the local file (or first file of a glob/folder) at ``path``, else None."""
    first = _first_file(path)
    if first is None:
        return None
    kind = _READERS.get(os.path.splitext(first)[1].lower())
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            return pq.read_schema(first).names
        if kind == "arrow":
            import pyarrow.ipc as ipc

            with ipc.open_file(first) as reader:
                return reader.schema.names
        if kind == "csv":
            import pyarrow.csv as pcsv

            options = pcsv.ParseOptions(delimiter="\t" if first.endswith(".tsv") else ",")
            with pcsv.open_csv(first, parse_options=options) as reader:
                return reader.schema.names
        if kind == "json":
            import pyarrow.json as pjson

            with open(first, "rb") as f:
                head = f.read(1 << 16).rsplit(b"\n", 1)[0]
            return pjson.read_json(io.BytesIO(head)).schema.names
    except Exception:  # unreadable or not what its name says: no schema, not an error
        return None
    return None


def _first_file(path: str) -> str | None:
    if "://" in path:
        return None
    if any(c in path for c in "*?["):
        matches = sorted(glob.glob(path))
        return matches[0] if matches else None
    if os.path.isdir(path):
        for root, _, files in sorted(os.walk(path)):
            for name in sorted(files):
                if os.path.splitext(name)[1].lower() in _READERS:
                    return os.path.join(root, name)
        return None
    return path if os.path.isfile(path) else None
