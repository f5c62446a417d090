"""Timers run on the app's clock (DESIGN rules 4 and 10): their fire time is computed from the
action's clock, they fire only when the worker finds them due, and ``next_timer_at`` is always
the earliest timer still waiting."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from tests.helpers import open_task
from tests.webapp.engine.diagrams import FORMS, KEY, diagram
from webapp import engine, worker
from webapp.engine import run, store
from webapp.engine.calendar import TOKYO
from webapp.extensions import db
from webapp.models import AuditEvent, OutboxMessage, ProcessInstance

# Monday 1 June 2020, 10:00 in Tokyo: long before the machine's own clock.
PAST = datetime(2020, 6, 1, 10, 0, tzinfo=TOKYO)
# Three business days later: Thursday 4 June 2020, 17:15 in Tokyo.
PAST_DEADLINE = datetime(2020, 6, 4, 17, 15, tzinfo=TOKYO)
TIME_DATE = '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">deadline("3bd")</bpmn:timeDate>'


def start_probe(world, bpmn: bytes | None = None) -> ProcessInstance:
    engine.deploy(bpmn or diagram(), FORMS, user=None)
    instance = engine.start(KEY, world.zei, {"purpose": "期限の検査"}, world.users["kobayashi"])
    db.session.commit()
    return instance


def waiting_timers(instance: ProcessInstance) -> list[datetime]:
    """Fire times of the timers still waiting in the stored workflow state, earliest first."""
    definition = instance.definition
    workflow = store.loads(instance.state, *store.specs_for(definition.sha256, definition.bpmn, definition.key,
                                                            2 * 1024 * 1024))
    return sorted(datetime.fromisoformat(event.value) for event in workflow.waiting_events()
                  if event.event_type in ("ClockTimeDate", "ClockDuration"))


def completed_steps(instance: ProcessInstance) -> list[str]:
    definition = instance.definition
    workflow = store.loads(instance.state, *store.specs_for(definition.sha256, definition.bpmn, definition.key,
                                                            2 * 1024 * 1024))
    return run.completed_steps(workflow)


def outbox(kind: str) -> list[str]:
    return sorted(db.session.scalars(sa.select(OutboxMessage.to_address).where(OutboxMessage.kind == kind)))


def audited(action: str) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def test_a_fire_time_is_computed_from_the_app_clock(app, world, clock):
    assert datetime.now(timezone.utc) > PAST_DEADLINE  # the machine's clock is long past it
    clock.set(PAST)
    instance = start_probe(world)
    assert instance.next_timer_at == PAST_DEADLINE
    assert open_task(instance.id, "approve").due_at == PAST_DEADLINE
    assert waiting_timers(instance) == [PAST_DEADLINE]


def test_an_unrelated_action_does_not_fire_a_timer_the_machine_clock_has_passed(app, world, clock):
    clock.set(PAST)
    instance = start_probe(world)
    clock.advance(hours=1)
    check = open_task(instance.id, "check")
    engine.complete(check.id, {}, world.users["tanaka"])  # runs the engine on this very workflow
    db.session.commit()
    db.session.refresh(instance)
    assert "check" in completed_steps(instance)
    assert "remind_approver" not in completed_steps(instance)
    assert instance.next_timer_at == PAST_DEADLINE
    assert waiting_timers(instance) == [PAST_DEADLINE]
    assert outbox("task_overdue") == []
    assert audited("task_reminded") == audited("timers_fired") == 0
    approve = open_task(instance.id, "approve")
    assert approve.status == "open" and approve.escalation_level == 0


def test_the_worker_fires_a_timer_only_once_the_app_clock_passes_it(app, world, clock):
    clock.set(PAST)
    instance = start_probe(world)
    clock.set(PAST_DEADLINE - timedelta(minutes=1))
    assert worker.run_once()["timers"] == 0
    assert outbox("task_overdue") == [] and audited("timers_fired") == 0

    clock.set(PAST_DEADLINE + timedelta(minutes=1))
    assert worker.run_once()["timers"] == 1
    assert outbox("task_overdue") == ["tanaka@demo.shodaku.example"]
    db.session.refresh(instance)
    assert "remind_approver" in completed_steps(instance)
    assert instance.next_timer_at is None and waiting_timers(instance) == []
    assert open_task(instance.id, "approve").status == "open"  # non-interrupting: the task stays

    clock.advance(days=30)
    assert worker.run_once()["timers"] == 0  # a timer fires once
    assert outbox("task_overdue") == ["tanaka@demo.shodaku.example"]


def test_a_duration_timer_counts_from_the_app_clock(app, world, clock):
    clock.set(PAST)
    instance = start_probe(world, diagram((TIME_DATE, '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">'
                                                      '"PT4H"</bpmn:timeDuration>')))
    assert instance.next_timer_at == PAST + timedelta(hours=4)
    clock.set(PAST + timedelta(hours=3, minutes=59))
    assert worker.run_once()["timers"] == 0
    clock.set(PAST + timedelta(hours=4, minutes=1))
    assert worker.run_once()["timers"] == 1


def test_a_date_without_an_offset_is_tokyo_time_not_the_servers(app, world, clock):
    instance = start_probe(world, diagram(('deadline("3bd")', '"2027-01-05T09:00:00"')))
    assert instance.next_timer_at == datetime(2027, 1, 5, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("timer", ['"tomorrow" + ""', "str(42)", "purpose"])
def test_a_timer_value_that_is_not_a_time_fails_the_step_readably(app, world, timer):
    engine.deploy(diagram(('deadline("3bd")', timer)), FORMS, user=None)  # computed: deploy cannot tell
    with pytest.raises(engine.ProcessFailed) as failed:
        engine.start(KEY, world.zei, {"purpose": "x"}, world.users["kobayashi"])
    db.session.rollback()
    assert "期限" in str(failed.value)  # names the timer the process owner must fix
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)
                             .where(ProcessInstance.process_key == KEY)) == 0


def test_a_constant_timer_that_is_not_a_time_is_refused_at_deploy(app):
    for kind, value in (("timeDate", '"tomorrow"'), ("timeDate", "42"), ("timeDuration", '"soon"')):
        bpmn = diagram((TIME_DATE, f'<bpmn:{kind} xsi:type="bpmn:tFormalExpression">{value}</bpmn:{kind}>'))
        (problem,) = engine.validate(bpmn, FORMS).problems
        assert problem.element_id == "approve_overdue", (kind, value)


def copying_request(world) -> dict:
    return {"kind": "other_purpose", "assets": world.asset_ids(world.zei, "A-001"),
            "purpose": "検証環境での確認", "handlers": ["user:kobayashi"]}


def test_next_timer_at_is_always_the_earliest_unfired_timer(app, world, clock):
    # Filed Wednesday 2 December 2026 10:00: reminder Monday 7, escalation Wednesday 9 December, 17:15.
    reminder = datetime(2026, 12, 7, 17, 15, tzinfo=TOKYO)
    escalation = datetime(2026, 12, 9, 17, 15, tzinfo=TOKYO)
    instance = engine.start("copying_consent", world.zei, copying_request(world), world.users["kobayashi"])
    db.session.commit()

    def check(expected: list[datetime]) -> None:
        db.session.refresh(instance)
        assert waiting_timers(instance) == expected
        assert instance.next_timer_at == (expected[0] if expected else None)

    check([reminder, escalation])
    clock.set(reminder + timedelta(minutes=5))
    assert worker.run_once()["timers"] == 1
    check([escalation])

    # Sending the request back ends the approval, and its timers with it.
    task = open_task(instance.id, "approve")
    engine.complete(task.id, {"decision": "send_back", "comment": "目的を具体的に"}, world.users["tanaka"])
    db.session.commit()
    check([])

    # Resubmitted on Friday 11 December 2026: new timers counted from then (Wed 16 and Fri 18 December).
    clock.set(datetime(2026, 12, 11, 9, 0, tzinfo=TOKYO))
    engine.complete(open_task(instance.id, "request").id, copying_request(world), world.users["kobayashi"])
    db.session.commit()
    check([datetime(2026, 12, 16, 17, 15, tzinfo=TOKYO), datetime(2026, 12, 18, 17, 15, tzinfo=TOKYO)])

    engine.complete(open_task(instance.id, "approve").id, {"decision": "approve"}, world.users["tanaka"])
    db.session.commit()
    check([])
    assert instance.status == "completed"


def test_a_timer_naming_a_missing_field_fails_in_the_readers_language(app, world):
    """A typo in an expression is reported in Japanese, naming the field, not as Python's English NameError."""
    engine.deploy(diagram(('deadline("3bd")', "deadline(due_in)")), FORMS, user=None)
    with pytest.raises(engine.ProcessFailed) as failed:
        engine.start(KEY, world.zei, {"purpose": "x"}, world.users["kobayashi"])
    db.session.rollback()
    message = str(failed.value)
    assert "'due_in'" in message and "定義されていません" in message
    assert "is not defined" not in message
