"""One handler per kind of failure; each rolls back so a failed request leaves nothing behind.

JSON envelope: ``{"error": code, "message": text}`` plus details (``fields`` for form
errors, ``completed_by``/``completed_at`` for a lost race, ``problems`` for diagrams).
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import current_app, g, jsonify, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..engine import ConcurrentUpdate, DiagramInvalid, EngineError, TaskAlreadyDone
from ..extensions import db, login_manager
from ..formschema import FormInvalid
from ..models import HumanTask
from ..models.workflow import CANCELLED
from ..storage import UploadRefused
from ..views_support import wants_json
from . import bp

logger = logging.getLogger(__name__)

TITLES = {
    400: lambda: _("The request could not be processed"),
    401: lambda: _("Please log in"),
    403: lambda: _("You do not have permission"),
    404: lambda: _("Not found"),
    405: lambda: _("Method not allowed"),
    409: lambda: _("Someone else acted first"),
    413: lambda: _("The upload is too large"),
    422: lambda: _("The process could not continue"),
    429: lambda: _("Too many attempts"),
    500: lambda: _("Something went wrong on our side"),
    503: lambda: _("The service is temporarily unavailable"),
}
DEFAULT_MESSAGES = {
    400: lambda: _("The request was malformed or its form had expired. Go back, reload the page and try again."),
    403: lambda: _("Your role does not allow this action."),
    404: lambda: _("The page does not exist, or you do not have access to it."),
    405: lambda: _("This address does not accept that kind of request."),
    413: lambda: _("The upload exceeds the size limit. Nothing was saved."),
    500: lambda: _("The error was recorded. Nothing was saved; please try again later."),
    503: lambda: _("The database cannot be reached right now. Nothing was lost; please try again in a minute."),
}
CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 422: "process_failed", 429: "too_many_requests", 500: "internal_error",
         503: "unavailable"}


def respond(status: int, message: str | None = None, code: str | None = None, title: str | None = None, **extra):
    message = message or DEFAULT_MESSAGES.get(status, lambda: "")()
    if wants_json():
        body = {"error": code or CODES.get(status, "error"), "message": message}
        body.update({k: v for k, v in extra.items() if v is not None})
        return jsonify(body), status
    return render_template("errors/error.html", status=status, title=title or TITLES.get(status, TITLES[500])(),
                           message=message, **extra), status


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException):
    db.session.rollback()
    if isinstance(error, CSRFError):
        return respond(400, _("The form had expired or was not sent from this site. Reload the page and try again."),
                       code="csrf_failed")
    status = error.code or 500
    message = error.description if status not in DEFAULT_MESSAGES and status != 404 else None
    return respond(status, message)


@bp.app_errorhandler(TaskAlreadyDone)
@bp.app_errorhandler(ConcurrentUpdate)
def lost_race(error: EngineError):
    """Tell the loser who acted and when (DESIGN rule 2)."""
    db.session.rollback()
    task_id = getattr(getattr(error, "task", None), "id", None) or getattr(error, "task_id", None)
    task = db.session.get(HumanTask, task_id) if task_id else None
    who = task.completed_by.display_name if task is not None and task.completed_by else None
    when = task.completed_at if task is not None else None
    message = str(error)
    title = None
    if who:
        message = _("%(who)s completed this task first. Your entry was not saved.", who=who)
    elif task is not None and task.status == CANCELLED:
        title = _("This step is no longer open")
        message = _("The flow closed this step (for example when its deadline passed or the request took another "
                    "path). Your entry was not saved.")
    return respond(409, message, title=title, completed_by=who, completed_at=when.isoformat() if when else None,
                   completed_at_dt=when, task_id=task_id)


@bp.app_errorhandler(DiagramInvalid)
def diagram_invalid(error: DiagramInvalid):
    db.session.rollback()
    return respond(400, str(error), code=error.code, problems=[p.as_dict() for p in error.problems])


@bp.app_errorhandler(EngineError)
def engine_error(error: EngineError):
    db.session.rollback()
    return respond(error.http_status, str(error), code=error.code)


@bp.app_errorhandler(FormInvalid)
def form_invalid(error: FormInvalid):
    db.session.rollback()
    return respond(400, _("Some fields need attention."), code="invalid_form", fields=error.as_dict())


@bp.app_errorhandler(UploadRefused)
def upload_refused(error: UploadRefused):
    db.session.rollback()
    return respond(400, str(error.args[0]), code="upload_refused")


@bp.app_errorhandler(sa.exc.OperationalError)
@bp.app_errorhandler(sa.exc.InterfaceError)
def database_unavailable(error: sa.exc.DBAPIError):
    """The database is unreachable: answer 503 without touching it again (no user, no counts)."""
    try:
        db.session.rollback()
    except sa.exc.SQLAlchemyError:
        logger.warning("rollback impossible while the database is unreachable")
    g._login_user = login_manager.anonymous_user()  # rendering must not try to load the user
    logger.error("database unavailable: %s", str(error.orig).splitlines()[0] if error.orig else error)
    return respond(503)


@bp.app_errorhandler(Exception)
def internal_error(error: Exception):
    if current_app.config.get("RAISE_UNHANDLED"):  # tests: a bug must fail loudly, not as a 500 page
        raise error
    logger.exception("unhandled error")
    try:
        db.session.rollback()
    except Exception:  # the session may be unusable; the response must still go out
        logger.exception("rollback failed")
    return respond(500)
