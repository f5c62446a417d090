"""The device register (Art. 12): checks and register entries of the ``device_connection`` flow.

What a device row records comes from ``ctx.instance.request_data``, the request as last
filed (the version the decisions were made on), never from the workflow's task data: a
field dropped on resubmission after a send-back can linger in task data, and the register
must hold what the city actually permitted.
"""
from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l

from webapp import decisions
from webapp.engine.calendar import to_tokyo
from webapp.models.devices import EXPIRED, PERMITTED, SENSITIVE_SEGMENTS, WITHDRAWN, Device

from . import Context, HandlerError, handler
from ._guards import register_row

CITY_LANE = "city_approver"
SECURITY_LANE = "security_officer"


def normalise_serial(text: str) -> str:
    """Compare serials as a person reads them: full-/half-width, case and spacing do not count."""
    return " ".join(unicodedata.normalize("NFKC", text or "").split()).upper()


def needs_security_permission(request: dict[str, Any]) -> bool:
    """Art. 12: connecting at all needs the information policy division; sensitive segments always do."""
    return request.get("connection", "none") != "none" or request.get("segment") in SENSITIVE_SEGMENTS


def _permission_number(ctx: Context, lane: str) -> str | None:
    """The number of ``lane``'s newest approval of the request's current version, if any."""
    approval = decisions.approval_on_version(ctx.instance, ctx.instance.request_version, lane=lane)
    return approval.number if approval else None


def _device(ctx: Context) -> Device:
    return register_row(ctx, Device, _l("This request has no device in the register."))


@handler("verify_device_serial")
def verify_device_serial(ctx: Context, entered: str) -> dict[str, Any]:
    """Compare the serial re-entered at the pre-use check with the permitted one.

    Returns ``{"matches": bool}`` for the diagram's gateway to route on; it changes nothing,
    so the consequence of a mismatch (stopping) stays visible in the diagram.
    """
    permitted = str(ctx.instance.request_data.get("serial", ""))
    matches = bool(permitted) and normalise_serial(entered) == normalise_serial(permitted)
    return {"matches": matches}


@handler("register_device")
def register_device(ctx: Context, checked_on: str) -> dict[str, Any]:
    """Enter the checked device in the register, naming the written permissions it stands on.

    Refuses without the city's approval of the current request version, and, when the
    device connects to anything, without the information policy division's as well: even
    a diagram edited to skip a permission step cannot register the device. Also refuses
    once the permission period is over (the device may no longer be brought in).
    """
    request = ctx.instance.request_data
    city_number = _permission_number(ctx, CITY_LANE)
    if city_number is None:
        raise HandlerError(_l("A device can only be registered after the city's written permission."))
    security_number = _permission_number(ctx, SECURITY_LANE)
    if needs_security_permission(request) and security_number is None:
        raise HandlerError(_l("A device that connects to the city's network or terminals can only be registered "
                              "after the information policy division's written permission."))
    valid_until = date.fromisoformat(request["valid_until"])
    if to_tokyo(ctx.now).date() > valid_until:
        raise HandlerError(_l("The permission period ended on %(day)s; the device cannot be registered.", day=valid_until.isoformat()))
    connects = request["connection"] != "none"
    device = Device(
        contract_id=ctx.instance.contract_id, instance_id=ctx.instance.id, kind=request["kind"],
        model=request["model"], serial=request["serial"], owner=request["owner"], purpose=request["purpose"],
        place=request["place"], connection=request["connection"], segment=request["segment"],
        connection_target=request.get("connection_target", "") if connects else "",
        valid_from=date.fromisoformat(request["valid_from"]), valid_until=valid_until, status=PERMITTED,
        city_decision_number=city_number,
        security_decision_number=security_number if needs_security_permission(request) else None,
        checked_on=date.fromisoformat(checked_on), checked_by_id=ctx.actor_id, created_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.session.add(device)
    ctx.session.flush()
    ctx.audit("device_registered", {"device": device.id, "serial": device.serial, "status": PERMITTED,
                                    "city_decision": city_number, "security_decision": device.security_decision_number,
                                    "valid_until": valid_until.isoformat()})
    return {"device_id": device.id}


@handler("stop_device_request")
def stop_device_request(ctx: Context, reason: str, entered: str) -> dict[str, Any]:
    """End the request without registering anything, saying why in the audit log and to the requester."""
    ctx.audit("device_request_stopped", {"reason": reason, "entered_serial": entered,
                                         "permitted_serial": ctx.instance.request_data.get("serial", "")})
    ctx.notify([ctx.instance.requester_id], "device_stopped")
    return {"stopped": True}


@handler("lapse_device_permission")
def lapse_device_permission(ctx: Context) -> dict[str, Any]:
    """The period ended before the pre-use check was confirmed: the permission lapses unused."""
    ctx.audit("device_permission_lapsed", {"valid_until": ctx.instance.request_data.get("valid_until")})
    ctx.notify([ctx.instance.requester_id], "device_lapsed")
    return {"lapsed": True}


@handler("withdraw_device")
def withdraw_device(ctx: Context, withdrawn_on: str) -> dict[str, Any]:
    """The contractor reported the device removed: it leaves the register's permitted list."""
    device = _device(ctx)
    if device.status != PERMITTED:
        raise HandlerError(_l("The device is already %(status)s.", status=device.status))
    device.status, device.withdrawn_on = WITHDRAWN, date.fromisoformat(withdrawn_on)
    device.ended_at = device.updated_at = ctx.now
    ctx.session.flush()
    ctx.audit("device_withdrawn", {"device": device.id, "serial": device.serial, "withdrawn_on": withdrawn_on})
    return {"device_id": device.id, "status": WITHDRAWN}


@handler("expire_device")
def expire_device(ctx: Context) -> dict[str, Any]:
    """The period ended without a withdrawal report: the permission ends and the contractor is told."""
    device = _device(ctx)
    if device.status != PERMITTED:
        raise HandlerError(_l("The device is already %(status)s.", status=device.status))
    device.status = EXPIRED
    device.ended_at = device.updated_at = ctx.now
    ctx.session.flush()
    ctx.audit("device_expired", {"device": device.id, "serial": device.serial,
                                 "valid_until": device.valid_until.isoformat()})
    ctx.notify([ctx.instance.requester_id], "device_expired")
    return {"device_id": device.id, "status": EXPIRED}
