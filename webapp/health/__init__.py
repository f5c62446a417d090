"""``/healthz``: is this process able to serve? (for the reverse proxy and monitoring)"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, jsonify

from ..extensions import csrf, db

bp = Blueprint("health", __name__)
csrf.exempt(bp)


@bp.get("/healthz")
def healthz():
    """200 when the database answers, 503 otherwise; no authentication, reveals nothing else."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    return jsonify({"status": "ok", "database": "ok"})
