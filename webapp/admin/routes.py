"""Administration pages; every view requires the global ``admin`` role."""
from __future__ import annotations

import functools
import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import access, clock, heartbeat, outbox
from ..extensions import db
from ..models import Contract, OutboxMessage, ProcessDefinition, RoleGrant, User
from ..models.preferences import ClosedDay
from . import bp, operations, overview


def admin_required(view):
    """:raise 403: logged in without the global admin role"""
    @functools.wraps(view)
    @login_required
    def wrapped(**kwargs):
        if "admin" not in access.scope_for(current_user).global_roles:
            abort(403)
        return view(**kwargs)
    return wrapped


@bp.route("/")
@admin_required
def index():
    now = clock.now()
    users = db.session.scalars(sa.select(User).order_by(User.username)).all()
    by_user: dict[int, list[RoleGrant]] = {}
    for grant in db.session.scalars(sa.select(RoleGrant)):
        by_user.setdefault(grant.user_id, []).append(grant)
    contracts = {c.id: c for c in db.session.scalars(sa.select(Contract))}
    definitions = db.session.scalars(sa.select(ProcessDefinition).order_by(ProcessDefinition.key,
                                                                           ProcessDefinition.version.desc())).all()
    queued = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
                                .order_by(OutboxMessage.id).limit(50)).all()
    return render_template("admin/index.html", users=users, by_user=by_user, contracts=contracts,
                           definitions=definitions, queued=queued, pending=outbox.pending_count(),
                           by_department=overview.overdue_by_department(now),
                           by_contract=overview.overdue_by_contract(now), worker=heartbeat.health(now))


@bp.route("/calendar", methods=["GET", "POST"])
@admin_required
def calendar():
    """Extra days the offices are closed; deadlines computed from now on skip them."""
    error = None
    if request.method == "POST":
        try:
            row = operations.add_closed_day(request.form.get("day", ""), request.form.get("reason", ""), current_user)
        except operations.Refused as refusal:
            error = str(refusal)
        else:
            db.session.commit()
            flash(_("%(day)s is now a closed day.", day=row.day.isoformat()), "success")
            return redirect(url_for("admin.calendar"))
    days = db.session.scalars(sa.select(ClosedDay).order_by(ClosedDay.day)).all()
    return render_template("admin/calendar.html", days=days, error=error), (400 if error else 200)


@bp.route("/calendar/<int:day_id>/delete", methods=["POST"])
@admin_required
def delete_closed_day(day_id: int):
    """:raise 404: no such closed day"""
    row = db.session.get(ClosedDay, day_id)
    if row is None:
        abort(404)
    day = row.day.isoformat()
    operations.remove_closed_day(row, current_user)
    db.session.commit()
    flash(_("%(day)s is a normal day again.", day=day), "success")
    return redirect(url_for("admin.calendar"))
