"""Jobs the worker runs once a day, whichever of several workers gets there first.

A day's run is claimed by inserting its :class:`~webapp.models.JobRun` row: one transaction
can make that insert, every other finds the name taken.
"""
from __future__ import annotations

import logging
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app

from . import dbutil
from .engine import calendar
from .extensions import db
from .models import JobRun

logger = logging.getLogger(__name__)


def claim(name: str, now: datetime) -> bool:
    """True for exactly one caller per ``name``, ever."""
    claimed = db.session.execute(dbutil.insert(JobRun).values(name=name, claimed_at=now)
                                 .on_conflict_do_nothing(index_elements=["name"])
                                 .returning(JobRun.name)).first()
    return claimed is not None


def _settled_key(job: str) -> str:
    return f"shodaku.settled.{job}"  # app.extensions: the day this process has nothing left to do for


def is_settled(job: str, day: date) -> bool:
    """This process already knows ``job`` has nothing left to do on ``day``: no query needed."""
    return current_app.extensions.get(_settled_key(job)) == day


def settle(job: str, day: date) -> None:
    current_app.extensions[_settled_key(job)] = day


def claim_day(job: str, day: date, now: datetime) -> bool:
    """True when this call claims ``job``'s run for ``day``. A day found already claimed is
    settled; a successful claim is not, so a run whose commit fails is retried next pass
    (which then finds the claim taken and settles the day)."""
    if is_settled(job, day):
        return False
    if claim(f"{job}:{day.isoformat()}", now):
        return True
    settle(job, day)
    return False


def refresh_statistics(now: datetime) -> bool:
    """Once a day on SQLite, refresh the query planner's statistics (``ANALYZE``).

    Without them SQLite picks worse indexes as the tables grow (measured by ``make bench``:
    completing an approval 24 ms instead of 17 ms at 100,000 open tasks). PostgreSQL's
    autovacuum keeps its own statistics, so there this does nothing. Returns whether it ran.
    """
    if dbutil.dialect() != "sqlite" or \
            not claim_day("analyze", calendar.to_tokyo(now).date(), now):
        return False
    # Connections read statistics when they open: web processes renew theirs within
    # SQLITE_POOL_RECYCLE_S (see config), so they plan with these within the hour.
    db.session.execute(sa.text("ANALYZE"))
    logger.info("query planner statistics refreshed")
    return True
