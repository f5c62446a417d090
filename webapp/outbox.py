"""The outbox (DESIGN rule 9): messages are rows written in the causing transaction.

:func:`enqueue` never sends. The worker sends each due message with :func:`deliver` and
records the outcome; a failed send stays queued with a growing back-off, so an SMTP outage
delays mail but never loses it. Each message carries a ``Message-ID`` derived from its
dedupe key, so a resend after a crash between sending and recording is recognisable as the
same message. A worker turn's messages share one SMTP session (:class:`Mailer`): an
escalation pass mails hundreds of people, and a session per message would pay the relay's
connection, TLS handshake and login for each.
"""
from __future__ import annotations

import hashlib
import logging
import smtplib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate

import sqlalchemy as sa
from flask import current_app

from . import dbutil
from .extensions import db
from .models import OutboxMessage

logger = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True)
class Message:
    """One e-mail to queue; ``dedupe_key`` names the occurrence, so queueing it again is a no-op."""
    dedupe_key: str
    kind: str
    to_address: str
    subject: str
    body: str
    recipient_id: int | None = None
    instance_id: int | None = None


def enqueue(messages: Iterable[Message], now: datetime) -> None:
    """Queue the messages in one statement; one whose key is already queued is ignored."""
    rows = [{"dedupe_key": m.dedupe_key[:200], "kind": m.kind, "to_address": m.to_address,
             "subject": m.subject[:300], "body": m.body, "recipient_id": m.recipient_id,
             "instance_id": m.instance_id, "created_at": now, "not_before": now, "attempts": 0, "last_error": ""}
            for m in messages]
    if rows:
        db.session.execute(dbutil.insert_new_rows(OutboxMessage.__table__, "dedupe_key"), rows)


def claim_next(now: datetime, after_id: int = 0) -> OutboxMessage | None:
    """Lock the next due message for sending (others skip it until this transaction ends).

    One message per transaction: committing a batch after its first message would release
    the locks of the rest while they are still to be sent, and another worker would send
    them too.
    """
    return db.session.scalar(
        sa.select(OutboxMessage).where(OutboxMessage.sent_at.is_(None), OutboxMessage.not_before <= now,
                                       OutboxMessage.id > after_id)
        .order_by(OutboxMessage.id).limit(1).with_for_update(skip_locked=True))


def _message(row: OutboxMessage) -> EmailMessage:
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Date"] = formatdate(localtime=False)
    domain = config["MAIL_FROM"].split("@")[-1]
    message["Message-ID"] = f"<{hashlib.sha256(row.dedupe_key.encode()).hexdigest()[:32]}@{domain}>"
    message.set_content(row.body, charset="utf-8")
    return message


class Mailer:
    """One SMTP session for a run of messages, opened at the first and closed by :meth:`close`.

    A session that has already carried mail is checked with ``NOOP`` before the next
    message and replaced if the server has hung up meanwhile. A sender refused with 421 on a
    used session (a relay's limit of messages per connection) is sent again over a new one:
    the server said no before taking anything, so nothing goes out twice. After any other
    failure the session is closed and the message stays queued: the next message starts a
    new session, as every message did before sessions were shared. So a relay that hangs up
    between the NOOP and the message, or says 421 only at the recipient, delays that message
    by its back-off (30 s at first); it never sends it twice.

    A relay that cannot be reached (refused, timed out, TLS or login failed) is not tried
    again in the same turn: the remaining messages fail at once with
    :class:`RelayUnreachable` and keep their back-off. A relay that drops packets would
    otherwise hold the turn for ``SMTP_TIMEOUT_S`` per message, and the next turn's timers,
    reminders and escalations with it.
    """

    def __init__(self) -> None:
        self._client: smtplib.SMTP | None = None
        self._unreachable: RelayUnreachable | None = None

    def send(self, message: EmailMessage) -> None:
        if self._client is not None and not self._alive():
            self.close()
        reused = self._client is not None
        try:
            try:
                self._session().send_message(message)
            except smtplib.SMTPSenderRefused as err:
                if not (reused and err.smtp_code == 421):
                    raise
                self.close()
                self._session().send_message(message)  # "too many messages on this connection"
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _alive(self) -> bool:
        try:
            return self._client.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            return False

    def _session(self) -> smtplib.SMTP:
        if self._unreachable is not None:
            raise RelayUnreachable(str(self._unreachable))
        if self._client is None:
            try:
                self._client = _connect()
            except Exception as err:
                self._unreachable = RelayUnreachable(
                    f"not tried: the relay could not be reached earlier in this turn ({type(err).__name__}: {err})")
                raise
        return self._client


class RelayUnreachable(OSError):
    """The SMTP relay could not be reached earlier in this worker turn, so this message was not tried."""


def _connect() -> smtplib.SMTP:
    config = current_app.config
    host, port, timeout = config["SMTP_HOST"], int(config["SMTP_PORT"]), config["SMTP_TIMEOUT_S"]
    security = config["SMTP_SECURITY"]
    if security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if config["SMTP_USER"]:
            client.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
    except BaseException:
        client.close()
        raise
    return client


def deliver(row: OutboxMessage, now: datetime, mailer: Mailer) -> bool:
    """Try to send one message; record success or schedule a retry. Never commits."""
    row.attempts += 1
    try:
        mailer.send(_message(row))
    except Exception as err:  # noqa: BLE001 - any failure keeps the message queued, never blocks the rest
        row.last_error = f"{type(err).__name__}: {err}"[:2000]
        row.not_before = now + min(timedelta(seconds=30 * 2 ** (row.attempts - 1)), MAX_BACKOFF)
        logger.warning("outbox %s not sent (attempt %s): %s", row.id, row.attempts, row.last_error)
        return False
    row.sent_at = now
    row.last_error = ""
    logger.info("outbox %s sent to recipient %s", row.id, row.recipient_id)
    return True


def pending_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.sent_at.is_(None))) or 0
