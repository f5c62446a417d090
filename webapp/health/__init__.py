"""``/healthz``: is this process able to serve? (for the reverse proxy and monitoring)"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify

from .. import clock, heartbeat
from ..extensions import csrf, db

bp = Blueprint("health", __name__)
csrf.exempt(bp)


@bp.get("/healthz")
def healthz():
    """200 when the database answers, 503 otherwise; no authentication, reveals nothing else."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        return _unreachable()
    return jsonify({"status": "ok", "database": "ok"})


@bp.get("/healthz/worker")
def worker():
    """200 while some worker finished a turn within ``WORKER_LATE_S``, 503 otherwise: reminders,
    escalations and mail have stopped. Says when the last turn was, nothing else."""
    try:
        state = heartbeat.health(clock.now())
    except sa.exc.SQLAlchemyError:
        return _unreachable()
    body = {"status": state.status, "last_turn": state.last_turn.isoformat() if state.last_turn else None,
            "workers": state.workers}
    return jsonify(body), 200 if state.running else 503


def _unreachable():
    db.session.rollback()
    return jsonify({"status": "unavailable", "database": "unreachable"}), 503
