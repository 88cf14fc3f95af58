"""Waiting on a condition, the one way tests wait (never a bare sleep, never a timing assert).

Every test folder imports it as ``from waiting import wait_for``: ``tests/`` is on
``sys.path`` (its conftest.py sits in a folder without ``__init__.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: how often the condition is asked again
POLL_S = 0.02


def wait_for(condition: Callable[[], T], timeout_s: float = 30.0, what: str = "") -> T:
    """Ask ``condition`` until it returns something truthy and return that.

    Raises:
        AssertionError: ``timeout_s`` passed first; the message names ``what`` (or the
            condition), so a failing test says what never happened.
    """
    deadline = time.monotonic() + timeout_s
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(POLL_S)
    return value
