"""Operations on incidents outside the diagram: reopening a closed one.

Incidents are never deleted and a closure decision is never rewritten: if a closed incident
turns out not to be over (more data found, the cause was wrong), the city *reopens* it, which
starts a new ``incident_response`` instance on the same contract with the original report,
linked to the old one in the register and in the audit log of both. The old instance keeps
its numbered closure decision untouched. Like every operation here, it flushes and never
commits: the caller (``records.reopen``) commits once.

Who may reopen is decided in one place, :func:`check_reopenable`, used by :func:`reopen` and
by the report handler (``handlers.incidents``) for a report that names ``reopened_from``.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from . import access, audit, engine, roles
from .extensions import db
from .formschema import FormInvalid
from .models import Contract, ProcessInstance, User
from .models.incidents import Incident
from .models.workflow import COMPLETED, RUNNING

logger = logging.getLogger(__name__)

PROCESS_KEY = "incident_response"
REASON_MAX = 2000
ATTACHMENT_FIELDS = ("evidence",)


def _starter_city_roles(user: User, contract: Contract) -> set[str]:
    """City roles the user holds for the contract that may also start an incident (``starters``)."""
    definition = engine.latest_version(PROCESS_KEY)
    starters = set(definition.meta.get("starters", [])) if definition else set()
    return {r for r in access.scope_for(user).roles_on(contract) & starters if roles.is_city_lane(r)}


def open_reopening(instance: ProcessInstance) -> ProcessInstance | None:
    """A still-running incident that already reopens ``instance``: reopening twice would fork it."""
    return db.session.scalar(
        sa.select(ProcessInstance).join(Incident, Incident.instance_id == ProcessInstance.id)
        .where(Incident.reopened_from_id == instance.id, ProcessInstance.status == RUNNING).limit(1))


def check_reopenable(original: ProcessInstance, user: User | None) -> None:
    """Refuse unless ``user`` may reopen the incident ``original`` now.

    Reopening starts a new incident on the city's word, so it takes a city role that may
    also report incidents on the contract (an auditor or a department director sees the
    incident but does not report one). Only a closed incident can be reopened, and only
    once at a time: two open reopenings of one incident would fork its record.

    :raise engine.NotAllowed: no such city role (or no user); not closed; a reopening is still open
    """
    if user is None or not _starter_city_roles(user, original.contract):
        raise engine.NotAllowed(_l("Only the city can reopen an incident."))
    if original.status != COMPLETED:
        raise engine.NotAllowed(_l("Only a closed incident can be reopened; this one is still open."))
    already = open_reopening(original)
    if already is not None:
        raise engine.NotAllowed(_l("This incident was already reopened as %(ref)s, which is still open.",
                                   ref=already.reference))


def can_reopen(instance: ProcessInstance, user: User) -> bool:
    """Whether the instance page should offer reopening to this user (the operation re-checks)."""
    if instance.process_key != PROCESS_KEY:
        return False
    try:
        check_reopenable(instance, user)
    except engine.NotAllowed:
        return False
    return True


def reopen(instance: ProcessInstance | None, user: User, reason: str) -> ProcessInstance:
    """Reopen a closed incident as a new instance with the original report; return the new instance.

    :raise engine.NotFound: not an incident, or the user may not see it (404: no leak)
    :raise engine.NotAllowed: the user holds no city role on its contract that may report
        incidents; it is not closed; or it was already reopened and that one is still open
    :raise FormInvalid: ``reason`` is empty or too long (field ``reason``)
    :raise engine.ProcessFailed: a step of the new instance failed; nothing is kept
    """
    if instance is None or instance.process_key != PROCESS_KEY or not access.can_see_instance(user, instance):
        raise engine.NotFound()
    check_reopenable(instance, user)
    contract = instance.contract
    text = (reason or "").strip()
    if not text:
        raise FormInvalid({"reason": [_l("This field is required.")]})
    if len(text) > REASON_MAX:
        raise FormInvalid({"reason": [_l("Enter at most %(n)s characters.", n=REASON_MAX)]})
    # Files stay with the original incident (an attachment belongs to one instance); the link shows them.
    data = {k: v for k, v in instance.request_data.items() if k not in ATTACHMENT_FIELDS}
    data.update(reopened_from=instance.reference, reopen_reason=text)
    new = engine.start(PROCESS_KEY, contract, data, user)
    audit.record("incident_reopened", actor_id=user.id, instance_id=instance.id, contract_id=contract.id,
                 detail={"reason": text, "reopened_as": new.reference, "new_instance": new.id})
    audit.record("incident_reopened", actor_id=user.id, instance_id=new.id, contract_id=contract.id,
                 detail={"reason": text, "reopened_from": instance.reference, "original_instance": instance.id})
    logger.info("user %s reopened incident instance %s as %s", user.id, instance.id, new.id)
    return new
