"""Helpers every blueprint's views share: load-or-404, the navigation counts."""
from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask, abort, g, has_request_context, request
from flask_login import current_user

from . import access, engine, roles
from .extensions import db
from .models import HumanTask, ProcessInstance, User
from .models.workflow import OPEN


def get_instance_for(user: User, instance_id: int) -> ProcessInstance:
    """The instance if ``user`` may see it.

    :raise 404: no such instance, or another contract's (never 403: no hint that it exists)
    """
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None or not access.can_see_instance(user, instance):
        abort(404)
    if has_request_context():
        g.log_instance_id = instance.id
    return instance


def get_instance(instance_id: int) -> ProcessInstance:
    return get_instance_for(current_user, instance_id)


def get_task_for(user: User, task_id: int) -> HumanTask:
    """The task if ``user`` may see it; the request's log lines name its instance from here on.

    :raise NotFound: no such task, or not visible to the user (404, no leak)
    """
    task = engine.load_task(task_id, user)
    if has_request_context():
        g.log_instance_id = task.instance_id
    return task


def open_task_count() -> int:
    """The menu's badge; the inbox's own "mine" count leaves it in ``g.open_task_count`` (same query)."""
    if "open_task_count" in g:
        return g.open_task_count
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(HumanTask)
        .where(HumanTask.status == OPEN, access.actionable_task_filter(current_user))
    ) or 0


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _role_labels() -> Callable[[str], str]:
    """A role's name in the reader's language, translated once per request however many rows show it."""
    labels: dict[str, str] = {}

    def role_label(key: str) -> str:
        if key not in labels:
            labels[key] = roles.label(key)
        return labels[key]

    return role_label


def init_app(app: Flask) -> None:
    @app.context_processor
    def _navigation() -> dict:
        if not has_request_context() or not current_user.is_authenticated or request.path.startswith("/api/"):
            return {}
        if "_navigation" in g:
            return g._navigation
        scope = access.scope_for(current_user)
        roles = scope.global_roles | set(scope.contract_roles) | set(scope.department_roles)
        g._navigation = {
            "nav_open_tasks": open_task_count(),
            "nav_roles": sorted(roles),
            "nav_is_admin": "admin" in scope.global_roles,
            "nav_is_process_owner": "process_owner" in scope.global_roles,
            "role_label": _role_labels(),
        }
        return g._navigation
