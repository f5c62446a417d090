"""Two people acting on the same task: exactly one wins; the other is told who and when (rule 2)."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from tests.conftest import BACKENDS
from tests.helpers import open_task, start_copying
from webapp import accounts, engine
from webapp.extensions import db
from webapp.models import AuditEvent, Decision, HumanTask


def test_the_slower_approver_gets_409_naming_the_winner(app, world):
    instance = start_copying(world)
    task = open_task(instance.id, "approve")
    first, second = app.test_client(), app.test_client()
    first.login("tanaka")
    second.login("tanaka")
    # Both opened the task page before either submitted.
    token_first = first.csrf_token(f"/tasks/{task.id}")
    token_second = second.csrf_token(f"/tasks/{task.id}")
    won = first.post(f"/tasks/{task.id}", data={"decision": "approve", "csrf_token": token_first})
    assert won.status_code == 302
    lost = second.post(f"/tasks/{task.id}", data={"decision": "reject", "comment": "x", "csrf_token": token_second})
    assert lost.status_code == 409
    html = lost.get_data(as_text=True)
    assert "田中 誠" in html and "2026年12月2日" in html  # who, and when (Tokyo time)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 1
    assert db.session.scalar(sa.select(Decision.outcome)) == "approve"


def test_api_loser_gets_a_json_conflict(app, client, world):
    from webapp.auth import tokens

    instance = start_copying(world)
    task = open_task(instance.id, "approve")
    _row, token = tokens.create(world.users["tanaka"], "t")
    db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post(f"/api/v1/tasks/{task.id}/complete", json={"data": {"decision": "approve"}},
                       headers=headers).status_code == 200
    again = client.post(f"/api/v1/tasks/{task.id}/complete", json={"data": {"decision": "approve"}}, headers=headers)
    assert again.status_code == 409
    assert again.json["error"] == "conflict" and again.json["completed_by"] == "田中 誠"
    assert again.json["completed_at"].startswith("2026-12-02")


def test_truly_concurrent_completions_leave_one_decision(app, world):
    """Several threads, each with its own session and connection, complete the same task at once."""
    helpers = []
    for n in range(3):
        helper = accounts.create_user(f"approver{n}", f"承認者{n}", "Approver-pass-2026",
                                      roles=["city_approver@dept:D-SHIMINZEI"])
        helpers.append(helper.id)
    db.session.commit()
    instance = start_copying(world)
    task_id = open_task(instance.id, "approve").id
    barrier = threading.Barrier(len(helpers))
    outcomes: list[str] = []

    def act(user_id: int) -> None:
        with app.app_context():
            from webapp.models import User

            user = db.session.get(User, user_id)
            barrier.wait()
            try:
                engine.complete(task_id, {"decision": "approve"}, user)
                db.session.commit()
                outcomes.append("won")
            except (engine.TaskAlreadyDone, engine.ConcurrentUpdate):
                db.session.rollback()
                outcomes.append("lost")
            except sa.exc.OperationalError:  # SQLite: the write lock timed out
                db.session.rollback()
                outcomes.append("lost")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=act, args=(uid,)) for uid in helpers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["lost", "lost", "won"]
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 1
    completed = db.session.scalars(sa.select(HumanTask).where(HumanTask.id == task_id)).one()
    assert completed.status == "completed" and completed.completed_by_id in helpers
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "task_completed")) == 1


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b == "postgresql"], indirect=True)
def test_an_approval_locks_and_rereads_a_request_the_worker_has_just_moved_on(app, world, clock):
    """The approver's page has the request loaded; meanwhile the worker fires its reminder and
    commits. Approving then runs on the request as it now stands, not as the page read it:
    no conflict, the reminder kept. (SQLite has no row locks to wait on; there the slower
    writer is refused as a conflict.)"""
    from datetime import timedelta

    from webapp import worker

    instance = start_copying(world)
    task = open_task(instance.id, "approve")
    clock.set(task.due_at + timedelta(minutes=1))
    user = world.users["tanaka"]
    engine.load_task(task.id, user)  # the page: the task with its request, kept in this session

    def remind() -> None:
        with app.app_context():
            worker.run_once()
            db.session.remove()

    thread = threading.Thread(target=remind)
    thread.start()
    thread.join(timeout=60)
    engine.complete(task.id, {"decision": "approve"}, user)
    db.session.commit()
    db.session.expire_all()
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.instance_id == instance.id)).all()
    assert "task_reminded" in actions and "task_completed" in actions
    assert db.session.get(HumanTask, task.id).status == "completed"


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b == "postgresql"], indirect=True)
def test_an_approval_of_a_task_another_approver_just_decided_names_them(app, world):
    """The page has the task loaded as open; meanwhile a colleague decides it and commits.
    Approving then is refused with the colleague's name, not run on the stale copy."""
    colleague = accounts.create_user("approver_x", "承認者X", "Approver-pass-2026",
                                     roles=["city_approver@dept:D-SHIMINZEI"])
    db.session.commit()
    colleague_id = colleague.id
    instance = start_copying(world)
    task = open_task(instance.id, "approve")
    user = world.users["tanaka"]
    engine.load_task(task.id, user)  # the page: the task as open, kept in this session

    def decide() -> None:
        with app.app_context():
            from webapp.models import User

            engine.complete(task.id, {"decision": "reject", "comment": "不備あり"}, db.session.get(User, colleague_id))
            db.session.commit()
            db.session.remove()

    thread = threading.Thread(target=decide)
    thread.start()
    thread.join(timeout=60)
    with pytest.raises(engine.TaskAlreadyDone) as refused:
        engine.complete(task.id, {"decision": "approve"}, user)
    assert "承認者X" in str(refused.value.message)
    db.session.rollback()
    assert db.session.scalars(sa.select(Decision.outcome)).all() == ["reject"]


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b == "sqlite"], indirect=True)
def test_an_approval_on_a_request_written_since_it_was_read_is_refused_and_leaves_nothing(app, world):
    """SQLite has no row locks: an action that read the request before another action on it
    committed must fail on the request's version when it writes, not overwrite that action's
    workflow state. (PostgreSQL locks and reads the request again instead: see above.)"""
    instance = start_copying(world)
    task = open_task(instance.id, "approve")
    user = world.users["tanaka"]
    engine.load_task(task.id, user)  # the request as this action read it
    instance_id, version = instance.id, instance.lock_version

    def write_meanwhile() -> None:
        with app.app_context():
            from webapp.models import ProcessInstance

            db.session.execute(sa.update(ProcessInstance).where(ProcessInstance.id == instance_id)
                               .values(lock_version=version + 1, title="他の操作で更新"))
            db.session.commit()
            db.session.remove()

    thread = threading.Thread(target=write_meanwhile)
    thread.start()
    thread.join(timeout=60)
    with pytest.raises(engine.ConcurrentUpdate):
        engine.complete(task.id, {"decision": "approve"}, user)
    db.session.rollback()
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 0
    assert db.session.get(HumanTask, task.id).status == "open"
    from webapp.models import ProcessInstance

    kept = db.session.get(ProcessInstance, instance_id)
    assert (kept.lock_version, kept.title) == (version + 1, "他の操作で更新")
