"""The worker: timers by the indexed column, concurrency, graceful stop; deadlines on the calendar."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

import handlers

from tests.conftest import BACKENDS
from tests.helpers import open_task, start_copying
from webapp import worker
from webapp.engine.calendar import TOKYO
from webapp.extensions import db
from webapp.models import AuditEvent, OutboxMessage, ProcessInstance


def test_a_task_filed_on_the_friday_before_a_holiday_is_due_after_it(world, clock):
    # Friday 20 November 2026; Monday 23 November is 勤労感謝の日: 3 business days = Thursday 26th.
    clock.set(datetime(2026, 11, 20, 16, 0, tzinfo=TOKYO))
    instance = start_copying(world)
    due = open_task(instance.id).due_at.astimezone(TOKYO)
    assert (due.date().isoformat(), due.hour, due.minute) == ("2026-11-26", 17, 15)


def test_a_closed_day_added_by_the_administrator_moves_new_deadlines(client, world, clock):
    client.login("yamamoto")
    added = client.submit("/admin/calendar", {"day": "2026-12-03", "reason": "庁舎停電のため閉庁"})
    assert added.status_code == 302
    refused = client.submit("/admin/calendar", {"day": "2026-12-03", "reason": "二重"})
    assert refused.status_code == 400
    instance = start_copying(world)
    # Wednesday 2 December: Thursday is closed, so Friday, Monday, Tuesday: due Tuesday 8 December.
    assert open_task(instance.id).due_at.astimezone(TOKYO).date().isoformat() == "2026-12-08"
    client.logout()
    client.login("tanaka")
    assert client.get("/admin/calendar").status_code == 403


def test_nothing_due_reads_only_the_index(app, world, clock):
    start_copying(world)
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        result = worker.run_once()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert result["timers"] == 0
    timer_queries = [s for s in statements if "process_instance" in s]
    assert len(timer_queries) == 1 and "next_timer_at <=" in timer_queries[0]
    assert "state" not in timer_queries[0].split("WHERE")[1]


def test_overdue_filter_badges_and_the_administrators_overview(client, world, clock):
    late = start_copying(world)
    clock.advance(days=6)  # past the first deadline
    fresh = start_copying(world)
    client.login("tanaka")
    page = client.get("/?overdue=1").get_data(as_text=True)
    assert late.reference in page and fresh.reference not in page
    assert "is-overdue" in page
    client.logout()
    client.login("yamamoto")
    overview = client.get("/admin/").get_data(as_text=True)
    assert "市民税課" in overview and "R8-ZEI-0012" in overview
    assert f"/?contract={world.zei.id}&amp;overdue=1&amp;scope=all" in overview  # the contract's overdue tasks


# Several workers rely on PostgreSQL's FOR UPDATE SKIP LOCKED; on SQLite one worker runs.
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b == "postgresql"], indirect=True)
def test_two_workers_never_fire_the_same_timer_twice(app, world, clock):
    instances = [start_copying(world) for _ in range(12)]
    clock.set(open_task(instances[0].id).due_at + timedelta(minutes=1))
    barrier = threading.Barrier(2)
    results: list[dict] = []

    def run() -> None:
        with app.app_context():
            barrier.wait()
            results.append(worker.run_once(batch=3))
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sum(r["timers"] for r in results) == 12
    db.session.expire_all()
    reminders = db.session.execute(sa.select(AuditEvent.instance_id, sa.func.count())
                                   .where(AuditEvent.action == "task_reminded").group_by(AuditEvent.instance_id)).all()
    assert sorted(count for _, count in reminders) == [1] * 12
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.kind == "task_overdue")) == 12


WORKER = [sys.executable, "-m", "webapp.cli", "worker"]


def worker_env(db_url, tmp_path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": db_url, "SHODAKU_SECRET_KEY": "x", "SHODAKU_FILES_DIR": str(tmp_path)}


def running_worker(env) -> subprocess.Popen:
    """A ``shodaku worker`` process that has logged 'worker started' (its stderr is read up to there)."""
    process = subprocess.Popen([*WORKER, "--interval", "0.2"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    started = ""
    while "worker started" not in started and time.monotonic() < deadline and process.poll() is None:
        started += process.stderr.readline()
    if "worker started" not in started:
        process.kill()
        raise AssertionError(f"the worker did not start: {started}{process.communicate()[1]}")
    return process


def test_the_worker_process_stops_cleanly_on_sigterm(db_url, tmp_path):
    process = running_worker(worker_env(db_url, tmp_path))
    try:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "worker stopped" in err


def test_a_burst_of_stop_signals_still_stops_the_worker_cleanly(db_url, tmp_path):
    """`make run`'s Ctrl-C signals the whole process group, and may do so repeatedly."""
    process = running_worker(worker_env(db_url, tmp_path))
    try:
        for _ in range(20):  # spaced, so the kernel does not merge them into one
            process.send_signal(signal.SIGTERM)
            time.sleep(0.003)
        _out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err[-2000:]
    assert err.count("worker received signal") == 1 and err.count("worker stopped") == 1


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b == "sqlite"], indirect=True)
def test_on_sqlite_a_second_worker_is_refused_while_one_runs(db_url, tmp_path):
    """SQLite has no row locks: a second worker (daemon or cron's --once) would send the same mails."""
    env = worker_env(db_url, tmp_path)
    first = running_worker(env)
    try:
        second = subprocess.run([*WORKER, "--once"], env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 1
        assert f"another worker (process {first.pid}) is already running" in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=15)
    after = subprocess.run([*WORKER, "--once"], env=env, capture_output=True, text=True, timeout=60)
    assert after.returncode == 0, after.stderr  # the lock went with the first worker


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b == "sqlite"], indirect=True)
def test_requests_leave_sqlite_checkpoints_to_the_worker(app, world, clock):
    """Commits leave the database file alone even past SQLite's default of 1,000 WAL pages
    (which made every few dozenth request wait for a checkpoint); the worker's turn copies
    the WAL in."""
    import hashlib

    database = Path(db.engine.url.database)
    wal = Path(f"{database}-wal")

    def fingerprint() -> str:
        return hashlib.sha256(database.read_bytes()).hexdigest()

    worker.run_once()
    before = fingerprint()
    for _ in range(60):  # about 1,500 pages, past the default limit
        start_copying(world)
    assert wal.stat().st_size > 1_200 * 4096
    assert fingerprint() == before  # every request so far waits in the WAL
    worker.run_once()
    assert fingerprint() != before


def test_worker_once_prints_what_it_did(runner, world, clock):
    start_copying(world)
    clock.advance(days=6)
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0 and "timers=1" in result.output
    assert db.session.scalar(sa.select(ProcessInstance.next_timer_at)) is not None


def break_reminders(monkeypatch, instance_id: int, message: str):
    """Make the ``remind`` handler refuse for one instance; returns the real handler."""
    from handlers import HandlerError

    original = handlers.REGISTRY["remind"]

    def remind(ctx, **params):
        if ctx.instance.id == instance_id:
            raise HandlerError(message)
        return original(ctx, **params)

    monkeypatch.setitem(handlers.REGISTRY, "remind", remind)
    return original


def test_a_failing_timer_step_is_contained_recorded_and_retried_later(app, world, clock, monkeypatch):
    """One broken instance must not hold back the others' timers or the mail."""
    broken, healthy = start_copying(world), start_copying(world)
    original = break_reminders(monkeypatch, broken.id, "メールサーバの設定が壊れています")
    due = open_task(healthy.id).due_at
    clock.set(due + timedelta(minutes=1))
    result = worker.run_once()
    assert result["timers"] == 1 and result["timer_failures"] == 1
    db.session.expire_all()
    reminded = db.session.scalars(sa.select(AuditEvent.instance_id).where(AuditEvent.action == "task_reminded")).all()
    assert reminded == [healthy.id]
    failure = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "timer_failed"))
    assert failure.instance_id == broken.id and "メールサーバ" in failure.detail["error"]
    # Postponed by 15 minutes, not retried on every pass.
    assert db.session.get(ProcessInstance, broken.id).next_timer_at == due + timedelta(minutes=16)
    assert worker.run_once()["timer_failures"] == 0
    monkeypatch.setitem(handlers.REGISTRY, "remind", original)
    clock.advance(minutes=16)
    assert worker.run_once()["timers"] == 1


def test_a_failure_inside_a_batch_of_due_timers_holds_back_none_of_the_others(app, world, clock, monkeypatch):
    """Due instances are fired several to a transaction; one failing in the middle of a batch
    rolls the batch back, and the others are fired again one by one: each reminded once, the
    audit chain intact, the broken one postponed."""
    from webapp import audit

    monkeypatch.setattr(worker, "COMMIT_EVERY", 4)
    instances = [start_copying(world) for _ in range(7)]
    broken = instances[2]
    break_reminders(monkeypatch, broken.id, "壊れた督促")
    due = open_task(instances[0].id).due_at
    clock.set(due + timedelta(minutes=1))
    result = worker.run_once()
    assert result["timers"] == 6 and result["timer_failures"] == 1
    db.session.expire_all()
    reminded = db.session.scalars(sa.select(AuditEvent.instance_id).where(AuditEvent.action == "task_reminded")).all()
    assert sorted(reminded) == sorted(i.id for i in instances if i is not broken)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.kind == "task_overdue")) == 6
    assert db.session.get(ProcessInstance, broken.id).next_timer_at == due + timedelta(minutes=16)
    assert audit.verify()[1] is None


def test_an_unexpected_error_in_a_timer_step_is_contained_too(app, world, clock, monkeypatch, caplog):
    """Not only diagram failures: a broken mail template must not block the queue's head."""
    from webapp import notifications

    broken, healthy = start_copying(world), start_copying(world)
    original = notifications.notifier

    def notifier(instance):
        if instance.id == broken.id:
            raise RuntimeError("template email/task_overdue.txt not found")
        return original(instance)

    monkeypatch.setattr(notifications, "notifier", notifier)
    due = open_task(healthy.id).due_at
    clock.set(due + timedelta(minutes=1))
    result = worker.run_once()
    assert result["timers"] == 1 and result["timer_failures"] == 1
    db.session.expire_all()
    failure = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "timer_failed"))
    assert failure.instance_id == broken.id and "task_overdue.txt" in failure.detail["error"]
    assert any(r.exc_info and "task_overdue.txt" in str(r.exc_info[1]) for r in caplog.records)
    assert db.session.get(ProcessInstance, broken.id).next_timer_at == due + timedelta(minutes=16)
    assert worker.run_once()["timer_failures"] == 0


def test_abandoned_uploads_are_removed_after_a_day(app, world, clock):
    """The file goes with its last row: an identical upload still pending keeps it."""
    import io

    from webapp import storage
    from webapp.models import Attachment

    storage.store(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "abandoned.pdf", world.users["kobayashi"])
    shared = b"%PDF-1.4\nshared\n%%EOF\n"
    storage.store(io.BytesIO(shared), "old.pdf", world.users["kobayashi"])
    db.session.commit()
    row = db.session.scalar(sa.select(Attachment).where(Attachment.filename == "abandoned.pdf"))
    path = storage.path_for(row.sha256)
    assert path.exists()
    worker.run_once()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 2
    clock.advance(days=1, minutes=1)
    kept = storage.store(io.BytesIO(shared), "new.pdf", world.users["kobayashi"])
    db.session.commit()
    worker.run_once()
    assert db.session.scalars(sa.select(Attachment.filename)).all() == ["new.pdf"] and not path.exists()
    assert storage.path_for(kept.sha256).exists()


def test_the_worker_refreshes_sqlites_planner_statistics_once_a_day(app, world, clock, backend):
    """Without statistics SQLite picks worse indexes as tables grow; PostgreSQL keeps its own."""
    from webapp.models import JobRun

    def planned_tables() -> set[str]:
        return set(db.session.scalars(sa.text("SELECT tbl FROM sqlite_stat1")))

    start_copying(world)
    worker.run_once()
    claims = set(db.session.scalars(sa.select(JobRun.name).where(JobRun.name.like("analyze:%"))))
    if backend != "sqlite":
        assert claims == set()
        return
    assert claims == {f"analyze:{clock.now.astimezone(TOKYO).date().isoformat()}"}
    assert {"human_task", "process_instance", "audit_event"} <= planned_tables()
    db.session.execute(sa.text("DELETE FROM sqlite_stat1"))
    db.session.commit()
    worker.run_once()
    assert planned_tables() == set()  # once a day, not every pass
    clock.advance(days=1)
    worker.run_once()
    assert "human_task" in planned_tables()


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b == "sqlite"], indirect=True)
def test_web_connections_pick_up_the_nightly_statistics_within_the_recycle_period(db_url, tmp_path, clock):
    """SQLite reads statistics when a connection opens; the worker's ANALYZE runs in another process."""
    import sqlite3

    from tests.conftest import _make_app

    app = _make_app(db_url, tmp_path / "files", clock, SQLITE_POOL_RECYCLE_S=1)
    plan = "EXPLAIN QUERY PLAN SELECT * FROM probe WHERE b = 1 AND a > 5"
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE probe (a INTEGER, b INTEGER)"))
            conn.execute(sa.text("CREATE INDEX probe_b ON probe (b)"))
            conn.execute(sa.text("CREATE INDEX probe_a ON probe (a)"))
            conn.execute(sa.text("INSERT INTO probe VALUES (:a, :b)"), [{"a": i, "b": i % 2} for i in range(5000)])
        with db.engine.connect() as conn:  # the web process's pooled connection, opened before the ANALYZE
            assert "probe_b" in str(conn.execute(sa.text(plan)).all())
        worker_process = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        worker_process.execute("ANALYZE")
        worker_process.commit()
        worker_process.close()
        time.sleep(1.2)
        with db.engine.connect() as conn:
            assert "probe_a" in str(conn.execute(sa.text(plan)).all())  # b has two values: a's index is better
        db.engine.dispose()


def test_the_health_check_and_the_administrator_see_whether_the_worker_runs(app, client, world, clock):
    """No worker turn, no reminder, escalation or mail: monitoring gets a 503 and the
    administrator's page says since when, while the web side itself stays healthy."""
    never = client.get("/healthz/worker")
    assert never.status_code == 503 and never.get_json() == {"status": "never", "last_turn": None, "workers": 0}
    client.login("yamamoto")
    assert "まだ一度も処理を終えていません" in client.get("/admin/").get_data(as_text=True)

    worker.run_once()  # 10:00 in Tokyo
    running = client.get("/healthz/worker")
    assert running.status_code == 200
    assert running.get_json() == {"status": "ok", "last_turn": clock().isoformat(), "workers": 1}
    page = client.get("/admin/").get_data(as_text=True)
    assert "ワーカーの最終処理：2026年12月2日 10:00" in page and 'role="alert"' not in page

    clock.advance(minutes=9)
    assert client.get("/healthz/worker").status_code == 200  # within WORKER_LATE_S (10 minutes)
    clock.advance(minutes=2)
    late = client.get("/healthz/worker")
    assert late.status_code == 503 and late.get_json()["status"] == "late" and late.get_json()["workers"] == 0
    assert "最後の処理は 2026年12月2日 10:00 です" in client.get("/admin/").get_data(as_text=True)
    assert client.get("/healthz").status_code == 200  # the web side answers: only the worker is missing

    worker.run_once()
    assert client.get("/healthz/worker").get_json()["status"] == "ok"


def test_a_beat_is_written_at_most_once_a_minute_and_a_silent_worker_is_forgotten_after_a_week(app, world, clock):
    from webapp import heartbeat
    from webapp.models import WorkerBeat

    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    worker.run_once()
    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        clock.advance(seconds=30)
        worker.run_once()  # nothing due, nothing to send: the turn writes nothing
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert not [s for s in statements if "worker_beat" in s]
    db.session.add(WorkerBeat(worker="old-host:1", started_at=clock() - timedelta(days=9),
                              last_turn_at=clock() - timedelta(days=8)))
    db.session.commit()
    clock.advance(minutes=1)
    worker.run_once()
    assert db.session.scalars(sa.select(WorkerBeat.worker)).all() == [heartbeat.worker_id()]
