"""The device-register handlers on their own: what they refuse, whatever a diagram asks of them."""
from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from flask_babel import force_locale
import sqlalchemy as sa

from handlers import Context, HandlerError
from handlers.devices import (
    expire_device,
    needs_security_permission,
    normalise_serial,
    register_device,
    verify_device_serial,
    withdraw_device,
)
from tests.helpers import DEFAULT_NOW, open_task
from tests.processes.flows import act
from tests.processes.test_device_connection import CONNECTED, PERIOD_END, confirm, permitted, request_data, start
from webapp import engine
from webapp.extensions import db
from webapp.models.devices import WITHDRAWN, Device


def context(instance: Any, now: datetime = DEFAULT_NOW, actor_id: int | None = None) -> tuple[Context, list, list]:
    audits: list[tuple[str, dict]] = []
    notices: list[tuple[list[int], str]] = []
    ctx = Context(session=db.session, instance=instance, actor_id=actor_id, now=now, data={},
                  notify=lambda ids, event: notices.append((ids, event)),
                  audit=lambda action, detail: audits.append((action, detail)))
    return ctx, audits, notices


@pytest.mark.parametrize(("entered", "permitted_serial", "same"), [
    ("PF3K7Q2A", "PF3K7Q2A", True),
    ("pf3k7q2a", "PF3K7Q2A", True),
    ("  PF3K7Q2A ", "PF3K7Q2A", True),
    ("ＰＦ３Ｋ７Ｑ２Ａ", "PF3K7Q2A", True),  # full-width, as an IME may type it
    ("SN 1234  56", "SN 1234 56", True),
    ("PF3K7Q2B", "PF3K7Q2A", False),
    ("PF3K7Q2", "PF3K7Q2A", False),
    ("PF3-K7Q2A", "PF3K7Q2A", False),  # a hyphen is part of a serial, not spacing
])
def test_serials_compare_as_a_person_reads_them(entered, permitted_serial, same):
    assert (normalise_serial(entered) == normalise_serial(permitted_serial)) is same


def test_verify_device_serial_compares_with_the_request_as_filed():
    instance = SimpleNamespace(request_data={"serial": "PF3K7Q2A"})
    ctx = Context(session=None, instance=instance, actor_id=None, now=DEFAULT_NOW, data={"serial": "STALE"})
    assert verify_device_serial(ctx, entered="pf3k7q2a") == {"matches": True}
    assert verify_device_serial(ctx, entered="STALE") == {"matches": False}
    nothing = Context(session=None, instance=SimpleNamespace(request_data={}), actor_id=None, now=DEFAULT_NOW, data={})
    assert verify_device_serial(nothing, entered="") == {"matches": False}


@pytest.mark.parametrize(("connection", "segment", "needed"), [
    ("none", "none", False),
    ("terminal", "internet", True),
    ("network", "internet", True),
    ("network", "mynumber", True),
    ("none", "lgwan", True),  # the form refuses this combination; the handler still errs on the safe side
    ("none", "mynumber", True),
])
def test_connecting_or_a_sensitive_segment_needs_the_information_policy_division(connection, segment, needed):
    assert needs_security_permission({"connection": connection, "segment": segment}) is needed


def test_no_device_is_registered_without_the_citys_permission(world):
    instance = start(world)
    ctx, audits, _ = context(instance)
    with pytest.raises(HandlerError, match="city's written permission"):
        register_device(ctx, checked_on="2026-12-03")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Device)) == 0 and audits == []


def test_a_connecting_device_is_not_registered_on_the_citys_permission_alone(world):
    instance = start(world, **CONNECTED)
    act(instance, "approve", world.users["watanabe"], decision="approve")
    ctx, _, _ = context(instance)
    with pytest.raises(HandlerError, match="information policy division"):
        register_device(ctx, checked_on="2026-12-03")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Device)) == 0


def test_a_permission_given_on_an_earlier_version_of_the_request_does_not_count(world):
    instance = start(world, **CONNECTED)
    act(instance, "approve", world.users["watanabe"], decision="approve")
    act(instance, "security_review", world.users["takahashi"], decision="send_back", comment="区分を見直してください。")
    back = open_task(instance.id, "request")
    engine.complete(back.id, request_data(evidence=instance.request_data["evidence"], **CONNECTED), world.users["ito"])
    db.session.commit()
    ctx, _, _ = context(instance)
    with pytest.raises(HandlerError, match="city's written permission"):
        register_device(ctx, checked_on="2026-12-03")
    db.session.rollback()


def test_no_device_is_registered_after_its_period(world):
    instance = permitted(world)
    ctx, _, _ = context(instance, now=PERIOD_END + timedelta(seconds=1))
    with pytest.raises(HandlerError, match="period ended on 2026-12-25"):
        register_device(ctx, checked_on="2026-12-26")
    db.session.rollback()
    # On the last day it still may be.
    ctx, audits, _ = context(instance, now=PERIOD_END - timedelta(minutes=1), actor_id=world.users["ito"].id)
    assert register_device(ctx, checked_on="2026-12-25")["device_id"]
    assert audits[0][0] == "device_registered"
    db.session.rollback()


def test_a_device_already_withdrawn_cannot_expire_or_be_withdrawn_again(world):
    instance = permitted(world)
    confirm(instance, world)
    act(instance, "report_withdrawal", world.users["ito"], withdrawn_on="2026-12-10", disconnected=True)
    ctx, audits, notices = context(instance)
    with pytest.raises(HandlerError, match="already withdrawn"):
        expire_device(ctx)
    with pytest.raises(HandlerError, match="already withdrawn"):
        withdraw_device(ctx, withdrawn_on="2026-12-11")
    db.session.rollback()
    assert audits == [] and notices == []
    device = db.session.scalar(sa.select(Device).where(Device.instance_id == instance.id))
    assert device.status == WITHDRAWN and device.withdrawn_on.isoformat() == "2026-12-10"


def test_withdrawing_or_expiring_needs_a_registered_device(world):
    instance = permitted(world)
    ctx, _, _ = context(instance)
    with force_locale("en"):
        with pytest.raises(HandlerError, match="no device in the register"):
            withdraw_device(ctx, withdrawn_on="2026-12-10")
        with pytest.raises(HandlerError, match="no device in the register"):
            expire_device(ctx)
    db.session.rollback()
