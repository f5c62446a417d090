"""Designer views: thin — check the key, load, one operation, commit, redirect or render.

Every route is for holders of the global ``process_owner`` role (see :func:`_owners_only`):
:raise 302: to the login page when not logged in
:raise 403: logged in without the global process_owner role (admins included)
:raise 404: an unknown flow or version
:raise 400: a POST without its CSRF token; an unsafe or unreadable diagram
"""
from __future__ import annotations

from io import BytesIO
from pathlib import Path

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from .. import access, engine
from ..engine.errors import DiagramInvalid
from ..extensions import db, login_manager
from ..models import ProcessDefinition
from . import bp, diff, drafts, intake, operations, queries

NOTE_MAX = 500


@bp.before_request
def _owners_only():
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if "process_owner" not in access.scope_for(current_user).global_roles:
        abort(403)
    return None


def _field(name: str) -> str:
    """A field of the request as text (numbers from the page script's JSON included)."""
    value = intake.field(request, name)
    return value.strip() if isinstance(value, str) else str(value) if isinstance(value, int) else ""


def _note() -> str:
    return _field("note")[:NOTE_MAX]


def _base_version() -> int | None:
    value = _field("base_version")
    return int(value) if value.isdigit() else None


def _refused(err: intake.DesignRefused):
    db.session.rollback()
    return jsonify(ok=False, error=err.code, message=str(err), problems=[]), 400


def _download(data: bytes, name: str):
    return send_file(BytesIO(data), mimetype="application/xml", as_attachment=True, download_name=name, max_age=0)


@bp.route("/")
def index():
    return render_template("designer/index.html", rows=queries.flows(current_user))


@bp.route("/upload", methods=["POST"])
def upload():
    """Store an uploaded .bpmn as the user's draft of the process it defines (nothing else)."""
    try:
        bpmn = intake.read_upload(request.files.get("file"))
        identity = intake.identify(bpmn)
    except intake.DesignRefused as err:
        db.session.rollback()
        return render_template("designer/index.html", rows=queries.flows(current_user), error=str(err)), 400
    latest = engine.latest_version(identity.key)
    drafts.save(current_user, identity.key, bpmn, latest.version if latest else None)
    db.session.commit()
    flash(_("The file was stored as your draft of %(name)s. Validate it, then deploy.", name=identity.name), "success")
    return redirect(url_for(".edit", key=identity.key))


@bp.route("/<key>/")
def flow(key: str):
    queries.check_key(key)
    return _flow_page(key)


def _flow_page(key: str, problems=None, status: int = 200):
    versions = queries.versions(key)
    draft = drafts.get(current_user, key)
    if not versions and draft is None:
        abort(404)
    return render_template("designer/flow.html", key=key, versions=versions, draft=draft, problems=problems or [],
                           running=queries.running_by_version(key)), status


@bp.route("/<key>/edit")
def edit(key: str):
    """The modeler, on ``?version=N``, else the user's draft, else the newest version."""
    queries.check_key(key)
    latest = engine.latest_version(key)
    draft = drafts.get(current_user, key)
    version = request.args.get("version", type=int)
    if version is not None:
        source: ProcessDefinition | None = queries.get_version(key, version)
        xml, base = source.bpmn, source.version
    elif draft is not None:
        xml, base = draft.bpmn, draft.base_version
    elif latest is not None:
        xml, base = latest.bpmn, latest.version
    else:
        abort(404)
    return _editor(key, xml.decode("utf-8", "replace"), base, latest, draft, from_draft=version is None and draft)


def _editor(key, xml: str, base, latest, draft, *, from_draft, problems=None, note: str = "", status: int = 200):
    problems = [p.as_dict() for p in problems or []]
    ready = editor_ready()
    page_data = {
        "key": key, "base_version": base, "locale": str(get_locale()), "editor": ready, "csrf": generate_csrf(),
        "problems": problems, **operations.catalog(),
        "urls": {"validate": url_for(".validate", key=key), "draft": url_for(".save_draft", key=key),
                 "deploy": url_for(".deploy", key=key)},
        "messages": {
            "validating": _("Validating…"), "saving": _("Saving…"), "deploying": _("Deploying…"),
            "saved": _("Draft saved."), "ok": _("No problems found."), "failed": _("The server did not answer; "
                                                                                    "nothing was saved."),
            "problems": _("Problems found: %(n)s", n="{n}"), "unsaved": _("You have unsaved changes."),
            "editorFailed": _("The diagram could not be shown in the editor; edit the XML below."),
        },
    }
    return render_template("designer/edit.html", key=key, xml=xml, base_version=base, latest=latest, draft=draft,
                           from_draft=bool(from_draft), problems=problems, note=note, editor_ready=ready,
                           page_data=page_data), status


def editor_ready() -> bool:
    """Whether the bpmn-js bundle was built (``make setup``); without it the page offers the XML."""
    return (Path(current_app.static_folder or "") / "vendor" / "designer.js").is_file()


@bp.route("/<key>/draft", methods=["POST"])
def save_draft(key: str):
    queries.check_key(key)
    try:
        draft = drafts.save(current_user, key, intake.xml_from_request(request), _base_version())
    except intake.DesignRefused as err:
        if request.is_json:
            return _refused(err)
        raise
    db.session.commit()
    if request.is_json:
        return jsonify(ok=True, saved_at=draft.updated_at.isoformat(), message=_("Draft saved."))
    flash(_("Draft saved."), "success")
    return redirect(url_for(".edit", key=key))


@bp.route("/<key>/draft/discard", methods=["POST"])
def discard_draft(key: str):
    queries.check_key(key)
    drafts.discard(current_user, key)
    db.session.commit()
    flash(_("Your draft was discarded."), "success")
    if engine.latest_version(key) is None:
        return redirect(url_for(".index"))
    return redirect(url_for(".flow", key=key))


@bp.route("/<key>/draft.bpmn")
def download_draft(key: str):
    draft = drafts.get(current_user, queries.check_key(key))
    if draft is None:
        abort(404)
    return _download(draft.bpmn, f"{key}-draft.bpmn")


@bp.route("/<key>/v<int:version>.bpmn")
def download_version(key: str, version: int):
    definition = queries.get_version(queries.check_key(key), version)
    return _download(definition.bpmn, f"{key}-v{version}.bpmn")


@bp.route("/<key>/validate", methods=["POST"])
def validate(key: str):
    """JSON: ``{"ok": bool, "problems": [{element_id, name, line, message}]}``; changes nothing."""
    queries.check_key(key)
    try:
        bpmn = intake.xml_from_request(request)
    except intake.DesignRefused as err:
        return _refused(err)
    problems = operations.validate(bpmn, key)
    db.session.rollback()
    return jsonify(ok=not problems, problems=[p.as_dict() for p in problems],
                   message=_("No problems found.") if not problems else
                   _("The diagram has %(n)s problem(s).", n=len(problems)))


@bp.route("/<key>/deploy", methods=["POST"])
def deploy(key: str):
    """Deploy the editor's diagram as a new version; JSON from the page's script, or a form."""
    queries.check_key(key)
    note = _note()
    try:
        bpmn = intake.xml_from_request(request)
        definition, created = operations.deploy(bpmn, key, current_user, note)
    except intake.DesignRefused as err:
        if request.is_json:
            return _refused(err)
        raise
    except DiagramInvalid as err:
        db.session.rollback()
        if request.is_json:
            return jsonify(ok=False, error=err.code, message=str(err), problems=[p.as_dict() for p in err.problems]), 400
        return _editor(key, bpmn.decode("utf-8", "replace"), _base_version(), engine.latest_version(key),
                       drafts.get(current_user, key), from_draft=False, problems=err.problems, note=note, status=400)
    db.session.commit()
    message = _("Deployed as version %(v)s. New requests use it; running requests finish on their own version.",
                v=definition.version) if created else \
        _("Nothing changed: version %(v)s is identical.", v=definition.version)
    url = url_for(".flow", key=key)
    if request.is_json:
        return jsonify(ok=True, created=created, version=definition.version, message=message, redirect=url)
    flash(message, "success")
    return redirect(url)


@bp.route("/<key>/v<int:version>/rollback", methods=["POST"])
def rollback(key: str, version: int):
    """Deploy version ``version`` again as a new version (its diagram and its forms)."""
    old = queries.get_version(queries.check_key(key), version)
    try:
        definition, created = operations.rollback(old, current_user, _note())
    except DiagramInvalid as err:
        db.session.rollback()
        return _flow_page(key, problems=err.problems, status=400)
    db.session.commit()
    flash(_("Version %(old)s was deployed again as version %(v)s.", old=version, v=definition.version) if created
          else _("Nothing changed: version %(v)s is identical.", v=definition.version), "success")
    return redirect(url_for(".flow", key=key))


@bp.route("/<key>/diff")
def compare(key: str):
    """``?from=N&to=M`` (default: the newest version against the one before).

    :raise 404: no version of the flow, or ``from``/``to`` names none of them
    """
    versions = queries.versions(queries.check_key(key))
    if not versions:
        abort(404)
    by_number = {v.version: v for v in versions}
    new_v = request.args.get("to", type=int) or versions[0].version
    old_v = request.args.get("from", type=int) or max(1, new_v - 1)
    if old_v not in by_number or new_v not in by_number:
        abort(404)
    old, new = by_number[old_v], by_number[new_v]
    return render_template("designer/diff.html", key=key, old=old, new=new, versions=versions,
                           changes=diff.compare(old.meta, new.meta))
