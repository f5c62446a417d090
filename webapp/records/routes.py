"""Views of requests, written consents, attachments, the registers and the evidence export."""
from __future__ import annotations

from flask import (
    abort,
    current_app,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import access, audit, clock, decisions, engine, formschema, incidents, presenters, storage
from ..engine.calendar import to_tokyo
from ..extensions import db
from ..formschema import FormInvalid
from ..ids import id_arg
from ..models import Attachment, Contract, Decision, ProcessDefinition
from ..views_support import get_instance
from . import bp, export, queries, registers


@bp.route("/")
@login_required
def index():
    f = queries.InstanceFilter.from_args(request.args)
    per_page = current_app.config["INBOX_PAGE_SIZE"]
    rows, total = queries.instances(current_user, f, per_page)
    processes = dict(db.session.execute(db.select(ProcessDefinition.key, ProcessDefinition.name).distinct()).all())
    return render_template("records/index.html", rows=rows, total=total, f=f, pages=max(1, -(-total // per_page)),
                           processes=processes, contracts=access.visible_contracts(current_user))


@bp.route("/<int:instance_id>")
@login_required
def instance(instance_id: int):
    """:raise 404: no such request, or one of a contract the user does not see"""
    return _instance_page(get_instance(instance_id))


@bp.route("/<int:instance_id>/reopen", methods=["POST"])
@login_required
def reopen(instance_id: int):
    """Reopen a closed incident with a reason (Art. 9): a new linked incident starts.

    :raise 404: not visible to the user
    :raise 403: not a city role that handles incidents, not closed, or already reopened
    """
    instance = get_instance(instance_id)
    reason = request.form.get("reason", "")
    try:
        reopened = incidents.reopen(instance, current_user, reason)
    except FormInvalid as err:
        db.session.rollback()
        return _instance_page(instance, reopen_errors=err.errors.get("reason", []), reopen_text=reason, status=400)
    db.session.commit()
    flash(_("Reopened as %(ref)s.", ref=reopened.reference), "success")
    return redirect(url_for("records.instance", instance_id=reopened.id))


def _instance_page(instance, *, reopen_errors=(), reopen_text: str = "", status: int = 200):
    definition = instance.definition
    ctx = formschema.FormContext(instance.contract, current_user, instance.id)
    start_schema = engine.form_for(definition, definition.meta.get("start_task") or "")
    steps_data = []
    for task in presenters.completed_tasks(instance):
        schema = engine.form_for(definition, task.spec_id)
        steps_data.append((task, presenters.fields(schema, task.submitted or {}, ctx)))
    steps = presenters.steps(instance)
    return render_template(
        "records/instance.html", instance=instance,
        request_fields=presenters.fields(start_schema, instance.request_data, ctx),
        steps=steps, open_steps=[s for s in steps if s.state == "current"], submissions=steps_data,
        history=presenters.history(instance), decisions=decisions.for_instance(instance.id),
        attachments=presenters.attachments(instance), outcome_label=presenters.outcome_label,
        notices=presenters.notices(instance), can_reopen=incidents.can_reopen(instance, current_user),
        reopen_errors=reopen_errors, reopen_text=reopen_text), status


@bp.route("/<int:instance_id>/decisions/<int:decision_id>")
@login_required
def decision(instance_id: int, decision_id: int):
    """The printable written consent (承諾書) or refusal.

    :raise 404: unknown, of another request, or of a contract the user does not see
    """
    instance = get_instance(instance_id)
    decision = db.session.get(Decision, decision_id)
    if decision is None or decision.instance_id != instance.id:
        abort(404)
    definition = instance.definition
    ctx = formschema.FormContext(instance.contract, current_user, instance.id)
    start_schema = engine.form_for(definition, definition.meta.get("start_task") or "")
    request_data = (decision.content or {}).get("request", {})
    return render_template("records/decision.html", instance=instance, decision=decision,
                           request_fields=presenters.fields(start_schema, request_data, ctx),
                           outcome_label=presenters.outcome_label)


@bp.route("/files/<int:attachment_id>")
@login_required
def file(attachment_id: int):
    """Download an attachment, always as a download (never rendered inline).

    :raise 404: unknown, or of a request the user may not see; a pending upload only to its uploader
    """
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        abort(404)
    if attachment.instance_id is None:
        if attachment.uploaded_by_id != current_user.id:
            abort(404)
    else:
        get_instance(attachment.instance_id)
    path = storage.path_for(attachment.sha256)
    if not path.exists():
        abort(404)
    return send_file(path, mimetype=attachment.content_type, as_attachment=True,
                     download_name=attachment.filename, max_age=0)


@bp.route("/registers/<key>")
@login_required
def register(key: str):
    """One register, for the contracts the user sees, a page at a time.

    :raise 404: no such register
    """
    described = registers.REGISTERS.get(key)
    if described is None:
        abort(404)
    contract_id = id_arg(request.args, "contract")
    page, per_page = queries.page_arg(request.args), current_app.config["INBOX_PAGE_SIZE"]
    rows, total = registers.rows(described, current_user, contract_id, page, per_page)
    return render_template("records/register.html", register=described, registers=registers.REGISTERS, rows=rows,
                           cell=registers.labeller(described, rows), contracts=access.visible_contracts(current_user),
                           contract_id=contract_id, page=page, pages=max(1, -(-total // per_page)))


@bp.url_defaults
def _stay_on_this_register(endpoint: str, values: dict) -> None:
    """The shared pager links to the current endpoint with the query string only; keep the register's key."""
    if endpoint == "records.register" and "key" not in values and has_request_context():
        current = (request.view_args or {}).get("key")
        if current is not None:
            values["key"] = current


@bp.route("/contracts")
@login_required
def contracts():
    """The contracts the user sees; auditors get the evidence export (Art. 18)."""
    return render_template("records/contracts.html", contracts=access.visible_contracts(current_user),
                           can_export=access.scope_for(current_user).sees_all)


@bp.route("/contracts/<int:contract_id>/export.zip", methods=["POST"])
@login_required
def export_contract(contract_id: int):
    """Everything recorded for one contract, with a manifest of sha256 sums.

    A POST with its CSRF token, because exporting is itself recorded in the audit log: a
    link on another site must not be able to write that entry in an auditor's name.

    :raise 404: unknown contract, or one the user does not see
    :raise 403: sees the contract but is not an auditor (or administrator, or information policy)
    """
    contract = db.session.get(Contract, contract_id)
    if contract is None or not access.can_see_contract(current_user, contract):
        abort(404)
    if not access.scope_for(current_user).sees_all:
        abort(403)
    package = export.build(contract, current_user)
    size, sha256 = export.fingerprint(package)
    audit.record("evidence_exported", actor_id=current_user.id, contract_id=contract.id,
                 detail={"bytes": size, "sha256": sha256})
    db.session.commit()
    stamp = to_tokyo(clock.now()).strftime("%Y%m%d-%H%M")
    response = send_file(package, mimetype="application/zip", as_attachment=True,
                         download_name=f"evidence-{contract.number}-{stamp}.zip", max_age=0)
    response.content_length = size
    return response
