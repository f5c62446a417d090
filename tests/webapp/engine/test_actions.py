"""The engine's verbs beyond the flows' own tests: what a step answered again leaves in the workflow."""
from __future__ import annotations

from tests.helpers import open_task, start_copying
from webapp import engine
from webapp.engine import run, store
from webapp.engine.actions import specs_of
from webapp.extensions import db


def complete(instance, spec_id: str, user, **data) -> None:
    engine.complete(open_task(instance.id, spec_id).id, data, user)
    db.session.commit()


def test_a_decision_answered_again_replaces_the_earlier_answers(world):
    """Sent back with a comment and conditions, then approved without: neither lingers in the data."""
    instance = start_copying(world)
    tanaka, kobayashi = world.users["tanaka"], world.users["kobayashi"]
    complete(instance, "approve", tanaka, decision="send_back", comment="目的を具体的に", conditions="閲覧のみ")
    complete(instance, "request", kobayashi, **instance.request_data)
    complete(instance, "approve", tanaka, decision="approve")
    db.session.refresh(instance)
    assert instance.status == "completed"
    workflow = store.loads(instance.state, *specs_of(instance.definition))
    last = [t for t in workflow.get_tasks() if t.task_spec.bpmn_id == "end_approved"][-1]
    assert last.data["decision"] == "approve"
    assert "comment" not in last.data and "conditions" not in last.data
    assert run.completed_steps(workflow).count("approve") == 2


def test_the_approval_that_ends_a_request_writes_the_request_once(world):
    """Closing the request (outcome, status, state) is one versioned write: a second write would bump
    lock_version twice and hold the row longer for everyone else acting on the same request."""
    instance = start_copying(world)
    before = instance.lock_version
    complete(instance, "approve", world.users["tanaka"], decision="approve")
    db.session.refresh(instance)
    assert (instance.status, instance.outcome) == ("completed", "approve")
    assert instance.lock_version == before + 1


def test_a_corrected_request_is_written_once_with_what_it_now_says(world, monkeypatch):
    """The requester answers a send-back: the new answers, the request's version and its title are
    written with the workflow in one versioned write, even when a step after the request runs a
    handler that queries (a process owner may draw one): such a query used to flush them first,
    two writes and two lock_version bumps for one action."""
    import sqlalchemy as sa

    from webapp.models import HumanTask

    instance = start_copying(world)
    tanaka, kobayashi = world.users["tanaka"], world.users["kobayashi"]
    complete(instance, "approve", tanaka, decision="send_back", comment="目的を具体的に")
    db.session.refresh(instance)
    before, version = instance.lock_version, instance.request_version
    engine_steps = run.complete_user_task

    def with_a_handlers_query(*args, **kwargs):
        db.session.scalars(sa.select(HumanTask).limit(1)).first()
        return engine_steps(*args, **kwargs)

    monkeypatch.setattr(run, "complete_user_task", with_a_handlers_query)
    corrected = {**instance.request_data, "purpose": "税務調査資料の複製（訂正後）"}
    complete(instance, "request", kobayashi, **corrected)
    db.session.refresh(instance)
    assert instance.lock_version == before + 1
    assert instance.request_version == version + 1
    assert instance.request_data["purpose"] == "税務調査資料の複製（訂正後）"
    assert open_task(instance.id, "approve").instance_title == instance.title


def test_a_version_read_once_is_not_read_again_and_no_two_sessions_share_it(app, world):
    """Versions never change, so a task's version comes from those the process has read before:
    the second task of the same version reads no process_definition row. Each session still gets
    an object of its own, and the version's diagram (not kept) is read when asked for."""
    import sqlalchemy as sa

    from webapp.models import ProcessDefinition, User

    first, second = start_copying(world), start_copying(world)
    tanaka = world.users["tanaka"].id
    first_id, second_id = open_task(first.id, "approve").id, open_task(second.id, "approve").id
    db.session.remove()
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        one = engine.load_task(first_id, db.session.get(User, tanaka)).instance.definition
        db.session.remove()
        user = db.session.get(User, tanaka)
        statements.clear()
        two = engine.load_task(second_id, user).instance.definition
        assert not [s for s in statements if "FROM process_definition" in s]
        assert two is not one and sa.inspect(two).session is db.session() and sa.inspect(one).session is None
        assert two.key == "copying_consent" and two.task_meta("approve")
        assert b"copying_consent" in two.bpmn
        assert [s for s in statements if "FROM process_definition" in s]  # the diagram, deferred, read when asked
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    assert db.session.get(ProcessDefinition, two.id) is two
