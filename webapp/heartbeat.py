"""Is the background worker running? Each worker process records when it last finished a turn.

Reminders, escalations, the digest and every e-mail depend on worker turns (DESIGN rules 4
and 9); a worker that died or hangs stops them all without a single error anyone sees. So
each turn leaves a beat (at most one write a minute per process), ``GET /healthz/worker``
answers 503 when the newest beat is older than ``WORKER_LATE_S``, and the administrator's
page says since when nothing has run.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from . import dbutil
from .extensions import db
from .models import WorkerBeat

WRITE_EVERY = timedelta(minutes=1)
FORGET_AFTER = timedelta(days=7)  # a worker stopped for good drops off the list

OK, LATE, NEVER = "ok", "late", "never"


@dataclass(frozen=True)
class WorkerHealth:
    status: str  # ok | late | never
    last_turn: datetime | None  # the newest beat of any worker
    workers: int  # processes that finished a turn within the limit (each cron `--once` run is one)

    @property
    def running(self) -> bool:
        return self.status == OK


def worker_id() -> str:
    return f"{socket.gethostname()[:100]}:{os.getpid()}"


def beat(now: datetime) -> None:
    """Record that this process finished a turn at ``now`` (a write at most once a minute). Never commits."""
    me = worker_id()
    key = "shodaku.heartbeat"
    written = current_app.extensions.get(key)
    if written is not None and written[0] == me and now - written[1] < WRITE_EVERY:
        return
    started = written[2] if written is not None and written[0] == me else now
    insert = dbutil.insert(WorkerBeat).values(worker=me, started_at=started, last_turn_at=now)
    # started_at too: a restarted container's worker is often pid 1 on the same host again.
    db.session.execute(insert.on_conflict_do_update(index_elements=["worker"],
                                                    set_={"last_turn_at": now, "started_at": started}))
    db.session.execute(sa.delete(WorkerBeat.__table__).where(WorkerBeat.last_turn_at < now - FORGET_AFTER))
    current_app.extensions[key] = (me, now, started)


def health(now: datetime) -> WorkerHealth:
    late_after = timedelta(seconds=current_app.config["WORKER_LATE_S"])
    last, alive = db.session.execute(
        sa.select(sa.func.max(WorkerBeat.last_turn_at),
                  sa.func.count().filter(WorkerBeat.last_turn_at >= now - late_after))).one()
    if last is None:
        return WorkerHealth(NEVER, None, 0)
    return WorkerHealth(OK if now - last <= late_after else LATE, last, alive)
