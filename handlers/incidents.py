"""The incident register (Art. 9, 19), kept by the ``incident_response`` flow step by step.

Each handler writes what its step settled, so the register is right even while an incident
is open: the report opens the row, triage rates it, the policy division adds its advice,
each contractor report updates the facts, and closure records the city's finding with the
number of its written decision. Handlers read the task data (``ctx.data``) rather than
parameters because most report fields are optional, and a parameter naming an absent field
would fail the step.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from webapp import engine, incidents
from webapp.engine.calendar import TOKYO, parse_local
from webapp.models import ProcessInstance, User
from webapp.models.incidents import CLAIM_DECISIONS, KINDS, SEVERITIES, Incident
from webapp.models.workflow import COMPLETED

from . import Context, HandlerError, handler
from ._guards import register_row, require_approval

logger = logging.getLogger(__name__)


def parse_found_at(value: Any, now: datetime) -> datetime:
    """The report's ``found_at`` (``local-datetime``: Japan time unless it carries an offset) in UTC.

    The form refuses a future time (``x-rules`` ``not_future``); the register checks again
    because an incident found after it was reported would distort every later judgement of
    how promptly it was handled, and a form can be edited or its rule dropped.
    """
    try:
        moment = parse_local(value)
    except ValueError:
        raise HandlerError(_l("The time the incident was found is not a valid date and time.")) from None
    if moment > now:
        raise HandlerError(_l("The time the incident was found (%(when)s) is in the future; enter when it was "
                              "actually found.", when=moment.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")))
    return moment


def incident_for(ctx: Context) -> Incident:
    """The register row of the running instance; every step after the report needs it."""
    return register_row(ctx, Incident,
                        _l("This incident is not in the incident register; the report step must come first."))


def _reopened_from(ctx: Context, reference: Any) -> ProcessInstance | None:
    """The closed incident a report reopens: same contract, closed, on the city's word, with a reason.

    The field is filled by :func:`webapp.incidents.reopen`. HTML forms drop ``readOnly``
    fields (:func:`webapp.formschema.coerce`), but a report posted through the API keeps
    every declared field, so a reference arriving here is held to the same rules
    (:func:`webapp.incidents.check_reopenable`).
    """
    if not reference:
        return None
    original = ctx.session.scalar(sa.select(ProcessInstance).where(
        ProcessInstance.reference == str(reference), ProcessInstance.process_key == incidents.PROCESS_KEY,
        ProcessInstance.contract_id == ctx.instance.contract_id))
    if original is None or original.status != COMPLETED:
        raise HandlerError(_l("%(ref)s is not a closed incident of this contract.", ref=str(reference)))
    actor = ctx.session.get(User, ctx.actor_id) if ctx.actor_id is not None else None
    try:
        incidents.check_reopenable(original, actor)
    except engine.NotAllowed as refused:
        raise HandlerError(refused.message) from None
    if not _text(ctx.data, "reopen_reason"):
        raise HandlerError(_l("Reopening an incident needs a reason."))
    return original


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    return str(value).strip() if value is not None else ""


@handler("incident_open")
def incident_open(ctx: Context) -> dict[str, Any]:
    """Enter the report in the register the moment it is filed (Art. 9: promptly)."""
    data = ctx.data
    kind = _text(data, "kind")
    if kind not in KINDS:
        raise HandlerError(_l("Unknown kind of incident: %(kind)s.", kind=kind))
    found_at = parse_found_at(data.get("found_at"), ctx.now)
    original = _reopened_from(ctx, data.get("reopened_from"))
    row = Incident(
        contract_id=ctx.instance.contract_id, instance_id=ctx.instance.id,
        reopened_from_id=original.id if original else None, kind=kind, summary=_text(data, "summary"),
        found_at=found_at, reported_at=ctx.now, asset_ids=list(data.get("assets") or []),
        people_affected=data.get("people_affected"), containment=_text(data, "containment"),
        instructions="", policy_advice="", actions_taken="", updated_at=ctx.now,
    )
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("incident_opened", {"incident": row.id, "kind": kind, "found_at": found_at.isoformat(),
                                  "reopened_from": original.reference if original else None})
    return {"incident_id": row.id}


@handler("incident_triage")
def incident_triage(ctx: Context) -> dict[str, Any]:
    """Record the city's severity rating and instructions; the diagram routes on the severity."""
    severity = _text(ctx.data, "severity")
    if severity not in SEVERITIES:
        raise HandlerError(_l("Unknown severity: %(severity)s.", severity=severity))
    row = incident_for(ctx)
    row.severity, row.instructions = severity, _text(ctx.data, "instructions")
    row.triaged_at = row.updated_at = ctx.now
    ctx.audit("incident_triaged", {"incident": row.id, "severity": severity})
    return {"severity": severity}


@handler("incident_policy")
def incident_policy(ctx: Context) -> dict[str, Any]:
    """Keep the information policy division's advice with the incident (high severity only)."""
    row = incident_for(ctx)
    row.policy_advice = _text(ctx.data, "advice")
    row.updated_at = ctx.now
    return {"incident_id": row.id}


@handler("incident_actions")
def incident_actions(ctx: Context) -> dict[str, Any]:
    """Update the register from the contractor's latest report: the details deferred at reporting."""
    row = incident_for(ctx)
    data = ctx.data
    row.actions_taken = _text(data, "actions_taken")
    if data.get("containment"):
        row.containment = _text(data, "containment")
    if data.get("people_affected") is not None:
        row.people_affected = int(data["people_affected"])
    if data.get("assets"):
        row.asset_ids = list(data["assets"])
    row.updated_at = ctx.now
    return {"incident_id": row.id}


@handler("incident_close")
def incident_close(ctx: Context) -> dict[str, Any]:
    """Close the incident with the city's finding, linked to the numbered closure decision (Art. 19).

    Reads the decision's own content, not the task data, so nothing typed in an earlier
    round (a send-back) leaks into the record.
    """
    require_approval(ctx, _l("An incident can only be closed by the city's written decision."))
    finding = dict(ctx.decision.content.get("decision", {}))
    texts = {name: _text(finding, name) for name in ("cause", "impact", "recurrence_prevention")}
    if not all(texts.values()):
        raise HandlerError(_l("Closing an incident needs its cause, impact and recurrence-prevention measures."))
    damage = finding.get("damage") == "yes"
    claim = finding.get("claim_decision") if damage else None
    if damage and (finding.get("damage_amount") is None or claim not in CLAIM_DECISIONS):
        raise HandlerError(_l("When the city suffered damage, state the estimated amount and whether it will "
                              "claim damages (Art. 19)."))
    row = incident_for(ctx)
    row.cause, row.impact, row.recurrence_prevention = texts["cause"], texts["impact"], texts["recurrence_prevention"]
    row.damage = damage
    row.damage_amount = int(finding["damage_amount"]) if damage else None
    row.claim_decision = claim
    row.closed_at = row.updated_at = ctx.now
    row.closure_decision_number = ctx.decision.number
    ctx.audit("incident_closed", {"incident": row.id, "decision": ctx.decision.number, "damage": damage,
                                  "damage_amount": row.damage_amount, "claim_decision": claim})
    logger.info("incident %s closed by decision %s", row.id, ctx.decision.number)
    return {"incident_id": row.id, "decision": ctx.decision.number}
