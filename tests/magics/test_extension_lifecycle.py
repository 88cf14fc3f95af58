"""Loading, reloading and unloading the IPython extension, and its ``%config`` settings."""

from __future__ import annotations

import logging
import threading

import pytest
from IPython.core.interactiveshell import InteractiveShell


def test_reloading_the_extension_leaks_no_threads():
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "sqlweave")
    for _ in range(3):
        ip.run_line_magic("reload_ext", "sqlweave")
    ip.run_line_magic("unload_ext", "sqlweave")
    alive = [t for t in threading.enumerate() if t.name == "sqlweave-lineage" and t.is_alive()]
    for t in alive:
        t.join(timeout=2)
    assert not [t for t in alive if t.is_alive()]


def test_bad_config_is_refused_and_does_not_break_a_reload(caplog: pytest.LogCaptureFixture):
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "sqlweave")
    try:
        with caplog.at_level(logging.ERROR):
            ip.run_cell("%config SqlWeave.display_limit = -1")
        # IPython's %config logs the validator's refusal; the setting keeps its value
        assert "SqlWeave.display_limit must be >= 0, not -1" in caplog.text
        assert ip.run_line_magic("sql", "SELECT 1 AS x").display_limit == 20
        ip.config.SqlWeave.display_limit = -1  # as if it came from a config file
        assert ip.run_cell("%reload_ext sqlweave").success
        assert ip.run_line_magic("sql", "SELECT 1 AS x").display_limit == 20
    finally:
        ip.run_line_magic("unload_ext", "sqlweave")
        ip.config.pop("SqlWeave", None)
