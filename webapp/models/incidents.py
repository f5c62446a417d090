"""The incident register (Art. 9 reporting, Art. 19 damages).

One row per ``incident_response`` instance, written by the flow's handlers
(:mod:`handlers.incidents`): opened at the report, rated at triage, updated with each
action report, and completed with the city's finding at closure. Art. 19 lets the city
claim damages for incidents the contractor caused, so the row keeps cause, impact and the
damage assessment long after the contract ends. Rows are never deleted: a closed incident
that flares up again is *reopened* as a new instance and a new row pointing at the old
instance (``reopened_from_id``), so the first closure record stays as it was decided.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .types import UTCDateTime, utcnow

# Kinds named by Art. 9: 漏えい, 毀損, 滅失, その他の不適正な取扱い.
KINDS = ("leakage", "damage", "loss", "other")
SEVERITIES = ("low", "medium", "high", "critical")
# The city's Art. 19 decision on damages; empty while no damage was found.
CLAIM_DECISIONS = ("claim", "no_claim")


class Incident(db.Model):
    """An information-security incident on a contract and what the city concluded about it."""

    __table_args__ = (
        sa.Index("ix_incident_contract_closed", "contract_id", "closed_at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    contract_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contract.id"))
    instance_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("process_instance.id"), unique=True)
    # The closed incident this one reopens (its process instance), if any.
    reopened_from_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("process_instance.id"), index=True)

    # The report (Art. 9: promptly, so only kind, time found and a summary are required).
    kind: so.Mapped[str] = so.mapped_column(sa.String(20))
    summary: so.Mapped[str] = so.mapped_column(sa.Text)
    found_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    reported_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    asset_ids: so.Mapped[list[int]] = so.mapped_column(sa.JSON, default=list)
    people_affected: so.Mapped[Optional[int]] = so.mapped_column(sa.Integer)
    containment: so.Mapped[str] = so.mapped_column(sa.Text, default="")

    # Triage by the city, and the information policy division's advice for high severity.
    severity: so.Mapped[Optional[str]] = so.mapped_column(sa.String(10))
    instructions: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    triaged_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    policy_advice: so.Mapped[str] = so.mapped_column(sa.Text, default="")

    # The contractor's latest action report.
    actions_taken: so.Mapped[str] = so.mapped_column(sa.Text, default="")

    # Closure: the city's finding, recorded with a numbered decision (Art. 19).
    cause: so.Mapped[Optional[str]] = so.mapped_column(sa.Text)
    impact: so.Mapped[Optional[str]] = so.mapped_column(sa.Text)
    recurrence_prevention: so.Mapped[Optional[str]] = so.mapped_column(sa.Text)
    damage: so.Mapped[Optional[bool]] = so.mapped_column(sa.Boolean)
    # Yen; BigInteger because a large leak can exceed 2^31 yen.
    damage_amount: so.Mapped[Optional[int]] = so.mapped_column(sa.BigInteger)
    claim_decision: so.Mapped[Optional[str]] = so.mapped_column(sa.String(12))
    closed_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    closure_decision_number: so.Mapped[Optional[str]] = so.mapped_column(sa.String(40))

    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    contract = so.relationship("Contract")
    instance = so.relationship("ProcessInstance", foreign_keys=[instance_id])
    reopened_from = so.relationship("ProcessInstance", foreign_keys=[reopened_from_id])

    def __repr__(self) -> str:
        return f"<Incident {self.id} instance={self.instance_id} {self.kind}/{self.severity}>"
