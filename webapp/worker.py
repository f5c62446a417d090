"""The background worker: fires due timers and sends the outbox (DESIGN rules 4 and 9).

One job per loop turn, each committing on its own: due timers (a few instances per
transaction), then each message.
Several workers may run on PostgreSQL: ``SKIP LOCKED`` splits the rows between them. SQLite
has no row locks, so two workers would both send a queued mail: there :func:`sole_worker`
lets one worker (daemon or ``--once``) run per database file.
SIGTERM finishes the current turn, then stops.
"""
from __future__ import annotations

import fcntl
import logging
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from . import cleanup, clock, db_setup, digest, engine, heartbeat, jobs, outbox
from .extensions import db

logger = logging.getLogger(__name__)


class AnotherWorker(RuntimeError):
    """A worker already runs against this SQLite database."""


@contextmanager
def sole_worker() -> Iterator[None]:
    """On SQLite, hold an exclusive lock on ``<database>.worker-lock`` while working.

    The operating system drops the lock when the process ends, however it ends (kill -9
    included), so a crashed worker never blocks the next one. PostgreSQL needs no lock.
    :raise AnotherWorker: the lock is held; the message names the process holding it
    """
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        yield
        return
    path = f"{os.path.realpath(url.database)}.worker-lock"  # one lock per file, however the URL names it
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise AnotherWorker(
                f"another worker (process {holder}) is already running against {url.database}; with SQLite only one "
                "worker may run, or both would send the same mail. Stop it first, or use PostgreSQL for several "
                "workers.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# Due instances fired per transaction: one commit and one audit append for the lot instead of
# one each. More would hold PostgreSQL's row locks (and SQLite's write lock) longer, keeping a
# person who acts on one of those requests waiting.
COMMIT_EVERY = 25


def run_once(batch: int = 200) -> dict[str, int]:
    """One pass: due timers, the digest, the day's statistics (SQLite), mail, the turn's beat
    (``webapp.heartbeat``), then the SQLite checkpoint.

    A failure is contained to what failed: the instance's timer is postponed and recorded,
    a message stays queued with its error; everything else goes on.
    """
    now = clock.now()
    fired = failed_timers = 0
    while True:
        due = engine.due_instances(now, batch)
        closed = engine.closed_days()  # read at most once per batch, and only if a deadline needs it
        moved = 0
        for start in range(0, len(due), COMMIT_EVERY):
            advanced, failures = _fire_together(due[start:start + COMMIT_EVERY], now, closed)
            moved, failed_timers = moved + advanced, failed_timers + failures
        fired += moved
        if len(due) < batch or moved == 0:  # all done, or the rest is another worker's right now
            break
    digests = 0
    try:
        digests = digest.send_if_due(now)
        db.session.commit()
    except Exception:  # the digest must never hold back timers or mail
        db.session.rollback()
        logger.exception("daily digest failed; retrying next pass")
    try:
        jobs.refresh_statistics(now)
        db.session.commit()
    except Exception:  # nor may the statistics: the claim rolls back with it, so the next pass retries
        db.session.rollback()
        logger.exception("refreshing the query planner statistics failed")
    sent = failed = 0
    last_id = 0
    with outbox.Mailer() as mailer:  # one SMTP session for the turn's messages
        for _ in range(batch):
            message = outbox.claim_next(now, last_id)
            if message is None:
                break
            last_id = message.id
            ok = outbox.deliver(message, clock.now(), mailer)
            db.session.commit()
            sent, failed = sent + ok, failed + (not ok)
    removed = cleanup.remove_stale_uploads(now)
    db.session.commit()
    cleanup.remove_unreferenced_files(removed)  # after the commit (rule 9): a rollback must not lose a file
    try:
        heartbeat.beat(clock.now())  # the turn got this far: /healthz/worker and the admin page know
        db.session.commit()
    except Exception:  # a missed beat shows as a late worker within minutes; the turn's work stands
        db.session.rollback()
        logger.exception("recording the worker's turn failed")
    try:
        db_setup.checkpoint_wal()
    except Exception:  # a checkpoint not made now is made next turn, or by a commit past the limit
        db.session.rollback()
        logger.exception("SQLite checkpoint failed; retrying next turn")
    return {"timers": fired, "timer_failures": failed_timers, "digests": digests, "sent": sent, "failed": failed}


def _fire_together(instance_ids: list[int], now, closed) -> tuple[int, int]:
    """Fire the instances' timers in one transaction; returns (advanced, failed).

    Each instance's step is still all or nothing: if any of them fails, the whole transaction
    rolls back and the instances are fired again one per transaction, where the failure is
    contained to its own instance.
    """
    try:
        advanced = sum(bool(engine.fire_timers_of(instance.id, now, closed, instance=instance))
                       for instance in engine.lock_due(instance_ids, now))
        db.session.commit()
        return advanced, 0
    except Exception:  # whatever it was, the one-by-one pass meets it again and records it
        db.session.rollback()
        # With its cause: a failure that does not happen again one at a time (a deadlock, a
        # conflict at commit) would otherwise leave no trace.
        logger.warning("a timer step failed among instances %s; firing them one at a time", instance_ids,
                       exc_info=True)
    return _fire_each(instance_ids, now, closed)


def _fire_each(instance_ids: list[int], now, closed) -> tuple[int, int]:
    advanced = failed = 0
    for instance_id in instance_ids:
        try:
            advanced += bool(engine.fire_timers_of(instance_id, now, closed))
            db.session.commit()
        except engine.ConcurrentUpdate:  # someone acted on it meanwhile: nothing to retry
            db.session.rollback()
            failed += 1
        except Exception as err:  # anything, or the instance heads the queue on every pass
            db.session.rollback()
            failed += 1
            if not isinstance(err, engine.ProcessFailed):  # a diagram's failure is explained already
                logger.exception("timer step of instance %s raised", instance_id)
            engine.postpone_failed_timer(instance_id, now, err)
            db.session.commit()
    return advanced, failed


def run_forever(app: Flask, interval: float = 5.0) -> None:
    stop: dict[str, int] = {"now": 0}  # the first stop signal's number

    def _stop(signum, _frame) -> None:
        # Only a flag: logging here could re-enter the log stream the main code is writing.
        stop["now"] = stop["now"] or int(signum)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    logger.info("worker started")
    while not stop["now"]:
        with app.app_context():
            try:
                result = run_once()
                if any(result.values()):
                    logger.info("worker turn: %s", result)
            except Exception:
                logger.exception("worker turn failed; retrying next turn")
                db.session.rollback()
            finally:
                db.session.remove()
        slept = 0.0
        while slept < interval and not stop["now"]:
            time.sleep(0.2)
            slept += 0.2
    for signum in (signal.SIGTERM, signal.SIGINT):  # late repeats must not kill the exit in progress
        signal.signal(signum, signal.SIG_IGN)
    logger.info("worker received signal %s, stopped after its turn", stop["now"])
    logger.info("worker stopped")
