"""20 clients race to complete the same 50 approval tasks through gunicorn on PostgreSQL."""
from __future__ import annotations

import random
import re
import threading

import sqlalchemy as sa

from tests.ops.browser import Browser
from tests.ops.conftest import gunicorn
from webapp import accounts, engine
from webapp.extensions import db
from webapp.models import AuditEvent, Decision, HumanTask


def test_every_task_is_completed_exactly_once_and_losers_hear_who_won(app, world, pg_url, tmp_path, runner):
    approvers = []
    for n in range(20):
        accounts.create_user(f"racer{n:02d}", f"競争者{n:02d}", "Racer-pass-2026",
                             roles=["city_approver@dept:D-SHIMINZEI"])
        approvers.append(f"racer{n:02d}")
    task_ids = []
    for n in range(50):
        instance = engine.start("copying_consent", world.zei, {
            "kind": "other_purpose", "assets": world.asset_ids(world.zei, "A-003"), "purpose": f"参照{n}",
            "handlers": ["user:kobayashi"]}, world.users["kobayashi"])
        db.session.flush()
        task_ids.append(db.session.scalar(sa.select(HumanTask.id).where(HumanTask.instance_id == instance.id,
                                                                        HumanTask.status == "open")))
    db.session.commit()

    results: list[tuple[int, int, str]] = []
    lock = threading.Lock()

    with gunicorn(pg_url, tmp_path, workers=3, threads=4) as base:
        def race(username: str) -> None:
            browser = Browser(base)
            browser.login(username, "Racer-pass-2026")
            token = browser.token("/")
            order = task_ids[:]
            random.Random(username).shuffle(order)
            for task_id in order:
                status, html = browser.request("POST", f"/tasks/{task_id}",
                                               {"decision": "approve", "csrf_token": token})
                with lock:
                    results.append((task_id, status, html if status == 409 else ""))

        threads = [threading.Thread(target=race, args=(name,)) for name in approvers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)

    assert len(results) == 20 * 50
    by_status: dict[int, int] = {}
    for _task, status, _ in results:
        by_status[status] = by_status.get(status, 0) + 1
    assert by_status == {302: 50, 409: 950}, by_status
    winners = {task for task, status, _ in results if status == 302}
    assert winners == set(task_ids)
    for _task, status, html in results:
        if status == 409:
            assert re.search(r"競争者\d\d", html), "the loser must be told who completed it"
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 50
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "task_completed")) == 50
    assert runner.invoke(args=["check"]).exit_code == 0
    assert runner.invoke(args=["verify-audit"]).exit_code == 0
