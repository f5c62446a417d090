"""Read-mostly administration pages; every view requires the global ``admin`` role."""
from __future__ import annotations

import functools

import sqlalchemy as sa
from flask import abort, render_template
from flask_login import current_user, login_required

from .. import access, outbox
from ..extensions import db
from ..models import Contract, OutboxMessage, ProcessDefinition, RoleGrant, User
from . import bp


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
    users = db.session.scalars(sa.select(User).order_by(User.username)).all()
    grants = db.session.scalars(sa.select(RoleGrant)).all()
    by_user: dict[int, list[RoleGrant]] = {}
    for grant in grants:
        by_user.setdefault(grant.user_id, []).append(grant)
    contracts = {c.id: c for c in db.session.scalars(sa.select(Contract))}
    definitions = db.session.scalars(sa.select(ProcessDefinition).order_by(ProcessDefinition.key,
                                                                           ProcessDefinition.version.desc())).all()
    queued = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
                                .order_by(OutboxMessage.id).limit(50)).all()
    return render_template("admin/index.html", users=users, by_user=by_user, contracts=contracts,
                           definitions=definitions, queued=queued, pending=outbox.pending_count())
