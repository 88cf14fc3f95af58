"""A cluster's housekeeping goes to logging, never into a notebook cell's output."""

from __future__ import annotations

import logging
import os
import signal

import pytest
from waiting import wait_for

from sqlweave.cluster.localcluster import LocalCluster, process_log

pytestmark = pytest.mark.process


def test_worker_replacement_is_logged_not_printed(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=process_log.name)
    with LocalCluster(workers=1, heartbeat_s=0.2) as c:
        victim = c.worker_pids(0)[-1]
        os.kill(victim, signal.SIGKILL)  # the worker only; its supervisor starts another
        record = wait_for(
            lambda: next(
                (r for r in caplog.records if f"worker pid {victim} ended" in r.getMessage()),
                None,
            ),
            30,
            "the supervisor's message",
        )
        assert record.levelno == logging.WARNING
    out, err = capfd.readouterr()  # this process's file descriptors 1 and 2, where a kernel's
    assert "ended" not in out + err  # output is captured into the running cell
