"""The device register (Art. 12): equipment a contractor may bring into city facilities.

A row exists only because the ``device_connection`` flow ended its permission steps with
the city's written permission (and, for a device that connects to the city's network or
terminals, the information policy division's too) *and* the contractor confirmed the
pre-use security check on the very device that was permitted (same serial). So each row
names the decision numbers it stands on. Rows are never deleted: a device that left is
``withdrawn``, one whose period ran out is ``expired``, because Art. 18 audits ask later
what was inside the city's network and when.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .types import UTCDateTime, utcnow

# Statuses
PERMITTED = "permitted"  # inside its validity period, may be used as permitted
EXPIRED = "expired"  # the period ended before a withdrawal was reported: the permission ended with it
WITHDRAWN = "withdrawn"  # the contractor reported taking it out (撤去・持ち出し)

# Kinds of equipment (Art. 12: 電磁的記録媒体 and 電子計算機)
KINDS = ("computer", "storage_media")
# How it connects: not at all (bring-in only), to a city terminal, or to a city network.
CONNECTIONS = ("none", "terminal", "network")
# Network segments (三層分離); the first two are sensitive and always need the
# information policy division's written permission.
SENSITIVE_SEGMENTS = ("mynumber", "lgwan")
SEGMENTS = ("none", "internet", *SENSITIVE_SEGMENTS)


class Device(db.Model):
    """One permitted device, for one contract and one validity period."""

    __table_args__ = (
        sa.Index("ix_device_contract_status", "contract_id", "status"),
        sa.Index("ix_device_status_valid_until", "status", "valid_until"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    contract_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contract.id"))
    instance_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("process_instance.id"), unique=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(20))
    model: so.Mapped[str] = so.mapped_column(sa.String(200))
    serial: so.Mapped[str] = so.mapped_column(sa.String(100), index=True)
    owner: so.Mapped[str] = so.mapped_column(sa.String(200))
    purpose: so.Mapped[str] = so.mapped_column(sa.Text)
    place: so.Mapped[str] = so.mapped_column(sa.String(300))
    connection: so.Mapped[str] = so.mapped_column(sa.String(12))
    segment: so.Mapped[str] = so.mapped_column(sa.String(12))
    connection_target: so.Mapped[str] = so.mapped_column(sa.String(300), default="")
    valid_from: so.Mapped[date] = so.mapped_column(sa.Date)
    valid_until: so.Mapped[date] = so.mapped_column(sa.Date)
    status: so.Mapped[str] = so.mapped_column(sa.String(12), default=PERMITTED)
    city_decision_number: so.Mapped[str] = so.mapped_column(sa.String(40))
    # Empty when the device connects to nothing (no second permission was needed).
    security_decision_number: so.Mapped[Optional[str]] = so.mapped_column(sa.String(40))
    checked_on: so.Mapped[date] = so.mapped_column(sa.Date)
    checked_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    withdrawn_on: so.Mapped[Optional[date]] = so.mapped_column(sa.Date)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    ended_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)

    contract = so.relationship("Contract")
    instance = so.relationship("ProcessInstance")

    def __repr__(self) -> str:
        return f"<Device {self.serial} {self.status}>"
