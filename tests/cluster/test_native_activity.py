"""The cancel watchdog's judgement of native threads (pure), and the reading it judges."""

from __future__ import annotations

import threading

from sqlweave.cluster.native_activity import SettleWatch, Verdict, native_busy_ns

MS = 1_000_000


def test_busy_threads_are_stuck_only_at_the_deadline() -> None:
    # (times in binary fractions: the spans compare exactly)
    w = SettleWatch(deadline=0.75, window_s=0.25)
    assert w.observe(0.0, {1: 0, 2: 0}) is Verdict.WAIT
    assert w.observe(0.25, {1: 200 * MS, 2: 150 * MS}) is Verdict.WAIT
    assert w.observe(0.5, {1: 400 * MS, 2: 300 * MS}) is Verdict.WAIT
    assert w.observe(0.75, {1: 600 * MS, 2: 450 * MS}) is Verdict.STUCK


def test_a_quiet_window_ends_the_watch() -> None:
    w = SettleWatch(deadline=1.0, window_s=0.25)
    w.observe(0.0, {1: 0})
    assert w.observe(0.25, {1: 50 * MS}) is Verdict.WAIT
    assert w.observe(0.5, {1: 50 * MS + MS}) is Verdict.QUIET  # 1 ms of 250: idle


def test_readings_closer_than_a_window_are_not_judged() -> None:
    w = SettleWatch(deadline=0.0, window_s=0.25)
    w.observe(0.0, {1: 0})
    assert w.observe(0.125, {1: 0}) is Verdict.WAIT  # too short to tell, even past the deadline


def test_ended_threads_do_not_hide_busy_ones_and_new_ones_count() -> None:
    w = SettleWatch(deadline=0.25, window_s=0.25)
    w.observe(0.0, {1: 500 * MS, 2: 0})
    # thread 1 ended (its time left the sum), thread 3 started and worked 60 ms
    assert w.observe(0.25, {2: 0, 3: 60 * MS}) is Verdict.STUCK


def test_waiting_for_a_cpu_counts_as_busy() -> None:
    # a starved thread shows run-queue wait rather than run time: it has not stopped
    w = SettleWatch(deadline=0.25, window_s=0.25)
    w.observe(0.0, {1: 0})
    assert w.observe(0.25, {1: 240 * MS}) is Verdict.STUCK


def test_nothing_to_measure_counts_as_quiet() -> None:
    assert SettleWatch(deadline=0.0).observe(0.0, None) is Verdict.QUIET


def test_reading_leaves_out_python_threads_and_sees_native_ones() -> None:
    python = {t.native_id for t in threading.enumerate()}
    busy = native_busy_ns(python)
    assert busy is not None  # Linux: /proc is there
    assert not set(busy) & python
    assert all(ns >= 0 for ns in busy.values())
    everything = native_busy_ns(())
    assert everything is not None and threading.get_native_id() in everything
