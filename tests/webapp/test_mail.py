"""E-mail through a real SMTP server on loopback (aiosmtpd): recipients, Japanese subjects,
an outage followed by recovery, preferences, the daily digest."""
from __future__ import annotations

import email
import email.policy
import socket
from datetime import datetime

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from tests.helpers import open_task, start_copying
from webapp import engine, notifications, worker
from webapp.engine.calendar import TOKYO
from webapp.extensions import db
from webapp.models import OutboxMessage


class Sink:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def app_config(smtp_port):
    return {"SMTP_PORT": smtp_port}


@pytest.fixture
def smtp(smtp_port):
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    yield sink
    controller.stop()



def test_new_tasks_are_mailed_to_the_approvers_in_japanese(app, world, smtp):
    instance = start_copying(world, "設計書の参照")
    result = worker.run_once()
    assert result["sent"] == 1
    (message,) = smtp.messages
    assert smtp.recipients == [["tanaka@demo.shodaku.example"]]
    assert message["Subject"].startswith("【承諾】") and "市の承諾審査" in message["Subject"]
    assert instance.reference in message["Subject"]
    body = message.get_content()
    assert "田中 誠" in body and f"/tasks/{open_task(instance.id).id}" in body


def test_mail_follows_the_recipients_language(app, world, smtp):
    world.users["tanaka"].locale = "en"
    db.session.commit()
    start_copying(world, "設計書の参照")
    worker.run_once()
    assert smtp.messages[0]["Subject"].startswith("[Shodaku] New task")


def test_one_notice_to_people_of_two_languages_reaches_each_in_their_own(app, world):
    """Messages are rendered a language at a time; nobody gets the other group's language."""
    from webapp import notifications
    from webapp.models import OutboxMessage as Row

    instance = start_copying(world, "設計書の参照")
    world.users["tanaka"].locale = "en"
    people = [world.users[name] for name in ("kobayashi", "tanaka", "yamamoto")]
    notifications.send(people, "request_approved", "mixed", instance)
    db.session.commit()
    subjects = dict(db.session.execute(
        sa.select(Row.recipient_id, Row.subject).where(Row.kind == "request_approved")).all())
    assert subjects[world.users["tanaka"].id].startswith("[Shodaku]")
    assert subjects[world.users["kobayashi"].id].startswith("【承諾】")
    assert subjects[world.users["yamamoto"].id].startswith("【承諾】")


def test_an_smtp_outage_delays_mail_and_recovery_sends_each_once(app, world, clock, smtp_port):
    for _ in range(3):
        start_copying(world, "設計書の参照")
    down = worker.run_once()
    assert down["sent"] == 0 and down["failed"] == 3
    queued = db.session.scalars(sa.select(OutboxMessage)).all()
    assert all(m.sent_at is None and m.attempts == 1 and "Connection refused" in m.last_error for m in queued)
    # The administrator sees the queue with the error.
    client = app.test_client()
    client.login("yamamoto")
    page = client.get("/admin/").get_data(as_text=True)
    assert "Connection refused" in page and "tanaka@demo.shodaku.example" in page
    # Still down a minute later: nothing is tried before the back-off.
    clock.advance(seconds=10)
    assert worker.run_once()["failed"] == 0
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        clock.advance(minutes=1)
        assert worker.run_once()["sent"] == 3
        clock.advance(hours=2)
        assert worker.run_once()["sent"] == 0
    finally:
        controller.stop()
    assert len(sink.messages) == 3
    assert len({m["Message-ID"] for m in sink.messages}) == 3
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.sent_at.is_(None))) == 0


def test_preferences_at_once_digest_never(app, world, clock, smtp):
    clock.set(datetime(2026, 12, 2, 7, 0, tzinfo=TOKYO))  # before the day's digest goes out
    tanaka = world.users["tanaka"]
    notifications.set_preferences(tanaka, {"task_created": "digest"})
    notifications.set_preferences(world.users["kobayashi"], {"request_approved": "none"})
    db.session.commit()
    instance = start_copying(world, "設計書の参照")
    worker.run_once()
    assert smtp.messages == []  # tanaka waits for the digest
    engine.complete(open_task(instance.id).id, {"decision": "approve"}, tanaka)
    db.session.commit()
    worker.run_once()
    assert smtp.messages == []  # kobayashi chose not to hear about approvals
    with pytest.raises(ValueError):
        notifications.set_preferences(tanaka, {"request_approved": "digest"})  # not a task event


def test_the_daily_digest_lists_open_and_overdue_tasks_once_a_business_day(app, world, clock, smtp):
    notifications.set_preferences(world.users["tanaka"], {"task_created": "digest", "task_overdue": "digest",
                                                          "task_escalated": "digest"})
    db.session.commit()
    first = start_copying(world, "設計書の参照")
    clock.set(datetime(2026, 12, 8, 8, 0, tzinfo=TOKYO))  # Tuesday, before 8:30: first is overdue
    start_copying(world, "設計書の参照")
    worker.run_once()
    assert smtp.messages == []
    clock.set(datetime(2026, 12, 8, 8, 31, tzinfo=TOKYO))
    worker.run_once()
    worker.run_once()
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        worker.run_once()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert not [s for s in statements if "document_sequence" in s]  # the day is settled: no claim retried
    (digest,) = smtp.messages  # one digest, however many passes
    body = digest.get_content()
    assert body.count("/tasks/") == 2 and first.reference in body
    assert smtp.recipients[-1] == ["tanaka@demo.shodaku.example"]
    # Saturday: no digest (the section chief does hear of the escalation that fell due meanwhile).
    clock.set(datetime(2026, 12, 12, 9, 0, tzinfo=TOKYO))
    before = len(smtp.messages)
    worker.run_once()
    assert [r for r in smtp.recipients[before:]] == [["suzuki@demo.shodaku.example"]] * (len(smtp.messages) - before)
    assert ["tanaka@demo.shodaku.example"] not in smtp.recipients[before:]


def test_the_task_page_shows_who_was_notified_and_when(app, world, clock, smtp):
    instance = start_copying(world, "設計書の参照")
    clock.advance(minutes=5)
    worker.run_once()
    client = app.test_client()
    client.login("tanaka")
    page = client.get(f"/tasks/{open_task(instance.id).id}").get_data(as_text=True)
    notices = page.split('class="list notices"')[1]
    assert "田中 誠" in notices and "12/2 10:05" in notices  # to whom, and when it went out (Tokyo)

