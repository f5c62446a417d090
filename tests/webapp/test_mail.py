"""E-mail through a real SMTP server on loopback (aiosmtpd): recipients, Japanese subjects,
an outage followed by recovery, preferences, the daily digest."""
from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from datetime import datetime

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from tests.helpers import open_task, start_copying
from webapp import engine, notifications, outbox, worker
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



class Relay(Sink):
    """A relay that takes ``per_session`` messages per connection, then answers the next sender
    with 421, as relays limiting messages per connection do, and refuses ``refused`` addresses."""

    def __init__(self, per_session: int = 1000, refused: tuple[str, ...] = (), hang_up: bool = False,
                 busy_after: int = 1000) -> None:
        super().__init__()
        self.per_session, self.refused, self.hang_up, self.busy_after = per_session, refused, hang_up, busy_after
        self.sessions: list[object] = []  # the connection each message came over
        self.encrypted: list[bool] = []

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.sessions.count(session) >= self.per_session or len(self.sessions) >= self.busy_after:
            return "421 4.7.0 Too many messages in this session"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.sessions.append(session)
        self.encrypted.append(session.ssl is not None)
        if self.hang_up:  # after answering: a relay that drops idle or used connections
            asyncio.get_running_loop().call_soon(server.transport.close)  # runs after the reply is written
        return await super().handle_DATA(server, session, envelope)


def queue(clock, *addresses: str) -> None:
    outbox.enqueue([outbox.Message(
        dedupe_key=f"test:{n}:{address}", kind="task_created", to_address=address, subject=f"件名 {n}",
        body="本文") for n, address in enumerate(addresses)], clock())
    db.session.commit()


def relay(smtp_port: int, handler: Relay, **tls: object) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port, **tls)
    controller.start()
    return controller


def people(n: int) -> list[str]:
    return [f"person{k}@city.example" for k in range(n)]


def one_turn(smtp_port: int, handler: Relay, clock, addresses: list[str]) -> dict[str, int]:
    """Queue a message to each address and run one worker turn against ``handler``'s relay."""
    controller = relay(smtp_port, handler)
    try:
        queue(clock, *addresses)
        return worker.run_once()
    finally:
        controller.stop()


def test_a_turns_messages_share_one_smtp_session(app, clock, smtp_port):
    handler = Relay()
    assert one_turn(smtp_port, handler, clock, people(6))["sent"] == 6
    assert len(handler.messages) == 6 and len(set(handler.sessions)) == 1


def test_starttls_relays_get_one_encrypted_session_per_turn(app, clock, smtp_port, tmp_path, monkeypatch):
    """SMTP_SECURITY=starttls: the relay's certificate is checked against the trusted CAs
    (here a test CA, through SSL_CERT_FILE as an administrator would), and the handshake is
    paid once per turn, not once per message."""
    import ssl

    import trustme

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    app.config["SMTP_SECURITY"] = "starttls"
    handler = Relay()
    controller = relay(smtp_port, handler, tls_context=server_context, require_starttls=True)
    try:
        queue(clock, *people(4))
        assert worker.run_once()["sent"] == 4
        monkeypatch.delenv("SSL_CERT_FILE")  # a relay whose certificate nobody vouches for gets nothing
        queue(clock, "later@city.example")
        failed = worker.run_once()
    finally:
        controller.stop()
    assert handler.encrypted == [True] * 4 and len(set(handler.sessions)) == 1
    assert failed["failed"] == 1 and "CERTIFICATE_VERIFY_FAILED" in db.session.scalar(
        sa.select(OutboxMessage.last_error).where(OutboxMessage.to_address == "later@city.example"))


def test_a_relays_limit_per_connection_opens_a_new_session_and_sends_each_message_once(app, clock, smtp_port):
    handler = Relay(per_session=2)
    result = one_turn(smtp_port, handler, clock, people(5))
    assert result["sent"] == 5 and result["failed"] == 0
    assert sorted(r[0] for r in handler.recipients) == people(5)
    assert len(set(handler.sessions)) == 3  # 2 + 2 + 1


def test_a_relay_that_stays_busy_on_a_new_session_keeps_the_rest_queued(app, clock, smtp_port):
    handler = Relay(busy_after=1)  # after one message, every sender gets 421, on any connection
    result = one_turn(smtp_port, handler, clock, people(3))
    assert result["sent"] == 1 and result["failed"] == 2 and len(handler.messages) == 1
    waiting = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))).all()
    assert len(waiting) == 2 and all("421" in m.last_error and m.not_before > clock() for m in waiting)


def test_a_relay_that_never_answers_costs_one_timeout_per_turn_not_one_per_message(app, clock):
    """A relay host that accepts and then says nothing (or drops packets) would hold the worker
    for SMTP_TIMEOUT_S per message, and the timers of the next turn with it."""
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.05)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])  # and never a greeting
            except TimeoutError:
                continue

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    app.config.update(SMTP_PORT=listener.getsockname()[1], SMTP_TIMEOUT_S=0.3)
    try:
        queue(clock, *people(4))
        first = worker.run_once()
        tried_in_first_turn = len(accepted)
        clock.advance(minutes=1)  # past the back-off: the next turn tries the relay again
        second = worker.run_once()
    finally:
        stop.set()
        acceptor.join(timeout=5)
        listener.close()
        for connection in accepted:
            connection.close()
    assert first["sent"] == 0 and first["failed"] == 4 and second["failed"] == 4
    assert tried_in_first_turn == 1 and len(accepted) == 2  # one attempt per turn, not one per message
    errors = db.session.scalars(sa.select(OutboxMessage.last_error).order_by(OutboxMessage.id)).all()
    assert "timed out" in errors[0]
    assert all(e.startswith("RelayUnreachable: not tried") and "timed out" in e for e in errors[1:])


def test_a_session_the_relay_has_closed_is_replaced_before_the_next_message(app, clock, smtp_port):
    handler = Relay(hang_up=True)
    result = one_turn(smtp_port, handler, clock, people(3))
    assert result["sent"] == 3 and result["failed"] == 0
    assert len(handler.messages) == 3 and len(set(handler.sessions)) == 3


def test_a_refused_recipient_fails_alone_and_the_rest_still_go(app, clock, smtp_port):
    handler = Relay(refused=("gone@city.example",))
    result = one_turn(smtp_port, handler, clock, ["first@city.example", "gone@city.example", "third@city.example"])
    assert result["sent"] == 2 and result["failed"] == 1
    assert [r[0] for r in handler.recipients] == ["first@city.example", "third@city.example"]
    refused = db.session.scalar(sa.select(OutboxMessage).where(OutboxMessage.to_address == "gone@city.example"))
    assert refused.sent_at is None and "No such user" in refused.last_error and refused.not_before > clock()
