"""The throughput run's account of what the database's sessions wait for (``bench.throughput``).

The README's explanation of the throughput figure rests on it, so it is checked against a
lock wait made on purpose: one session holds a row, another waits for it, a third is inside a
transaction doing nothing.
"""
from __future__ import annotations

import threading
import time

import psycopg

from bench.throughput import SessionSampler


def test_the_sampler_names_the_statement_sessions_wait_on(pg_url):
    url = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as setup:
        setup.execute("CREATE TABLE counter_probe (id int PRIMARY KEY, n int)")
        setup.execute("INSERT INTO counter_probe VALUES (1, 0)")
    holder = psycopg.connect(url)
    waiter = psycopg.connect(url)
    idle = psycopg.connect(url)
    try:
        holder.execute("UPDATE counter_probe SET n = n + 1 WHERE id = 1")  # keeps the row locked
        idle.execute("SELECT 1")  # a transaction left open by an app that is busy elsewhere
        blocked = threading.Thread(target=lambda: waiter.execute("UPDATE counter_probe SET n = n + 1 WHERE id = 1"))
        blocked.start()
        _wait_until_queued(url, waiter.info.backend_pid)
        with SessionSampler(url, interval=0.01) as sampler:
            time.sleep(0.3)
        holder.commit()
        blocked.join(timeout=5)
        waiter.commit()
    finally:
        for conn in (holder, waiter, idle):
            conn.close()
        with psycopg.connect(url, autocommit=True) as cleanup:
            cleanup.execute("DROP TABLE counter_probe")

    summary = sampler.summary()
    assert summary["samples"] >= 10
    sessions = summary["mean_sessions"]
    assert sessions["waiting on a lock"] == 1.0
    assert sessions["in a transaction, the app working"] == 2.0  # the holder and the idle transaction
    assert "running a statement" not in sessions  # the sampler leaves itself out
    assert summary["lock_waits_by_statement"] == {"UPDATE counter_probe SET n = n + 1 WHERE id = 1": 1.0}


def _wait_until_queued(url: str, pid: int) -> None:
    """Until the session ``pid`` waits on a lock (a fixed sleep would race a busy machine)."""
    deadline = time.monotonic() + 10
    with psycopg.connect(url, autocommit=True) as conn:
        while conn.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() != ("Lock",):
            assert time.monotonic() < deadline, "the second UPDATE never queued behind the first"
            time.sleep(0.01)
