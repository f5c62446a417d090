"""API endpoints. Authentication is by bearer token only (never the session cookie, so no CSRF).

Every endpoint applies the same access rules as the UI; another contract's ids answer 404.
"""
from __future__ import annotations

from flask import current_app, g, jsonify, request
from werkzeug.exceptions import BadRequest, Unauthorized

from .. import decisions, engine, formschema, presenters
from ..auth import tokens
from ..extensions import csrf, db
from ..ids import valid_id
from ..models import Contract
from ..requests.catalog import startable
from ..views_support import get_instance_for, get_task_for
from ..inbox import queries
from . import bp, openapi, serialize

csrf.exempt(bp)


@bp.before_request
def authenticate():
    if request.endpoint == "api.spec":
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    user = tokens.authenticate(token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        raise Unauthorized("A valid personal access token is required (Authorization: Bearer <token>).")
    g.api_user = user
    g.log_user_id = user.id
    return None


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("The body must be a JSON object.")
    return body


@bp.get("/openapi.json")
def spec():
    return jsonify(openapi.document())


@bp.get("/processes")
def processes():
    entries = startable(g.api_user)
    return jsonify({"items": [{
        "key": e.definition.key, "name": e.definition.name, "version": e.definition.version,
        "contracts": [{"id": c.id, "number": c.number, "title": c.title} for c in e.contracts],
        "form": engine.form_for(e.definition, e.definition.meta["start_task"]),
    } for e in entries]})


@bp.post("/instances")
def start_instance():
    body = _json_body()
    contract_id = valid_id(body.get("contract_id")) if isinstance(body.get("contract_id"), int) else None
    contract = db.session.get(Contract, contract_id) if contract_id else None
    if contract is None or not isinstance(body.get("process"), str) or not isinstance(body.get("data", {}), dict):
        raise engine.NotFound()
    instance = engine.start(body["process"], contract, body.get("data", {}), g.api_user)
    db.session.commit()
    return jsonify(serialize.instance(instance)), 201


@bp.get("/tasks")
def tasks():
    per_page = min(max(request.args.get("per_page", 50, type=int) or 50, 1), current_app.config["API_MAX_PER_PAGE"])
    f = queries.InboxFilter.from_args(request.args, g.api_user)
    page = queries.list_tasks(g.api_user, f, per_page)
    return jsonify({"items": [serialize.task(t) for t in page.tasks],
                    "_meta": {"page": page.page, "pages": page.pages, "per_page": per_page, "total": page.total,
                              "counts": page.counts}})


@bp.get("/tasks/<int:task_id>")
def task(task_id: int):
    row = get_task_for(g.api_user, task_id)
    schema = engine.form_for(row.instance.definition, row.spec_id)
    ctx = formschema.FormContext(row.instance.contract, g.api_user, row.instance_id)
    body = serialize.task(row)
    body["form"] = formschema.resolve(schema, ctx) if schema else None
    refusal = engine.why_not(row, g.api_user)  # also "already done"
    body["can_complete"] = refusal is None
    body["refusal"] = str(refusal) if refusal is not None else None
    body["instance"] = serialize.instance(row.instance)
    return jsonify(body)


@bp.post("/tasks/<int:task_id>/complete")
def complete(task_id: int):
    body = _json_body()
    data = body.get("data", {})
    if not isinstance(data, dict):
        raise BadRequest("data must be a JSON object.")
    get_task_for(g.api_user, task_id)  # 404 before anything else; the log lines name the instance
    row = engine.complete(task_id, data, g.api_user)
    db.session.commit()
    return jsonify({"task": serialize.task(row), "instance": serialize.instance(row.instance)})


@bp.get("/instances/<int:instance_id>")
def instance(instance_id: int):
    row = get_instance_for(g.api_user, instance_id)
    body = serialize.instance(row)
    body["decisions"] = [serialize.decision(d) for d in decisions.for_instance(row.id)]
    body["history"] = [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "detail": e.detail,
                        "outcome": e.outcome} for e in presenters.history(row)]
    body["steps"] = [{"id": s.node_id, "name": s.name, "state": s.state} for s in presenters.steps(row)]
    return jsonify(body)
