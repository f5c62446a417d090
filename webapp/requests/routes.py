"""Views for choosing a process and filing a request."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .. import access, engine, forms_support, formschema
from ..extensions import db
from ..models import Contract
from . import bp, catalog


@bp.route("/new")
@login_required
def new():
    return render_template("requests/new.html", entries=catalog.startable(current_user))


@bp.route("/new/<key>/<int:contract_id>", methods=["GET", "POST"])
@login_required
def file(key: str, contract_id: int):
    """The request form of the newest version of ``key``, for one contract.

    :raise 404: unknown process, unknown contract, or one the user may not start it on
    """
    contract = db.session.get(Contract, contract_id)
    definition = engine.latest_version(key)
    if contract is None or definition is None or \
            not access.can_start(current_user, definition.meta.get("starters", []), contract):
        abort(404)
    schema = engine.form_for(definition, definition.meta["start_task"])
    ctx = formschema.FormContext(contract, current_user)
    status = 200
    state = forms_support.state_for(schema, {})
    if request.method == "POST":
        instance, failed = forms_support.submit(
            schema, lambda data: engine.start(key, contract, data, current_user, from_html=True))
        if failed is None:
            filed, instance_id = _("Your request was filed as %(ref)s.", ref=instance.reference), instance.id
            db.session.commit()
            flash(filed, "success")
            return redirect(url_for("records.instance", instance_id=instance_id))
        state, status = failed, 400
    return render_template("requests/file.html", definition=definition, contract=contract, state=state,
                           schema=formschema.resolve(schema, ctx) if schema else None), status
