"""Corpus records that still differ (written by ``python -m tests.differential.update_known``).

Keys are ``<mode>:<file under test_files/>:<line of the record>``.
"""

from __future__ import annotations

from .causes import Cause as C

CORPUS: dict[str, C] = {
    "registered:functions.slt:525": C.DICTIONARY_NESTED,
    "registered:functions.slt:550": C.DICTIONARY_NESTED,
    "registered:functions.slt:575": C.DICTIONARY_NESTED,
    "registered:functions.slt:599": C.DICTIONARY_NESTED,
    "registered:functions.slt:732": C.DICTIONARY_NESTED,
    "registered:functions.slt:809": C.DICTIONARY_NESTED,
    "registered:functions.slt:831": C.DICTIONARY_NESTED,
    "registered:functions.slt:874": C.DICTIONARY_NESTED,
    "registered:functions.slt:899": C.DICTIONARY_NESTED,
    "registered:functions.slt:910": C.DICTIONARY_NESTED,
    "registered:functions.slt:921": C.DICTIONARY_NESTED,
    "registered:functions.slt:932": C.DICTIONARY_NESTED,
    "registered:limit.slt:691": C.TIES,
    "registered:limit.slt:718": C.TIES,
    "sql:functions.slt:525": C.DICTIONARY_NESTED,
    "sql:functions.slt:550": C.DICTIONARY_NESTED,
    "sql:functions.slt:575": C.DICTIONARY_NESTED,
    "sql:functions.slt:599": C.DICTIONARY_NESTED,
    "sql:functions.slt:732": C.DICTIONARY_NESTED,
    "sql:functions.slt:809": C.DICTIONARY_NESTED,
    "sql:functions.slt:831": C.DICTIONARY_NESTED,
    "sql:functions.slt:874": C.DICTIONARY_NESTED,
    "sql:functions.slt:899": C.DICTIONARY_NESTED,
    "sql:functions.slt:910": C.DICTIONARY_NESTED,
    "sql:functions.slt:921": C.DICTIONARY_NESTED,
    "sql:functions.slt:932": C.DICTIONARY_NESTED,
}
