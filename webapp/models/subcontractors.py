"""The subcontractor register (Art. 10): who may do part of a contract's work besides 乙/丙.

A row exists only because the ``subcontracting`` flow ended with both written approvals
(the city approver's and the information policy division's), so each row names both
decision numbers. Other flows read this register to refuse work by anyone not in it
(see :mod:`webapp.formsources.subcontractors`). Rows are never deleted: an engagement
that is over is marked ``ended``, because Art. 2 protection and Art. 18 audits outlive it.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .types import UTCDateTime, utcnow

# Statuses
APPROVED = "approved"
ENDED = "ended"

ARTICLE_10_2 = "情報セキュリティ取扱特記事項 第10条第2項"


def liability_statement(contractor_name: str, party: str, company: str) -> str:
    """The Art. 10.2 sentence as it applies to one engagement, stored with the row.

    Stored rather than computed on display so the record keeps the wording it was
    approved under, even if the template or the company names change later.
    """
    return (f"{contractor_name}（{party}）は、甲（木更津市）に対し、再委託先「{company}」の全ての行為及び"
            f"その結果について責任を負う（{ARTICLE_10_2}）。")


class Subcontractor(db.Model):
    """An approved subcontractor of one contract, for one scope and period."""

    __table_args__ = (
        sa.Index("ix_subcontractor_contract_status", "contract_id", "status"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    contract_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contract.id"))
    instance_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("process_instance.id"), unique=True)
    # The party answering for the subcontractor (乙, or 丙 when the second contractor asked).
    contractor_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organization.id"))
    company: so.Mapped[str] = so.mapped_column(sa.String(200))
    corporate_number: so.Mapped[str] = so.mapped_column(sa.String(13), index=True)
    scope: so.Mapped[str] = so.mapped_column(sa.Text)
    asset_ids: so.Mapped[list[int]] = so.mapped_column(sa.JSON)
    starts_on: so.Mapped[date] = so.mapped_column(sa.Date)
    ends_on: so.Mapped[date] = so.mapped_column(sa.Date)
    city_decision_number: so.Mapped[str] = so.mapped_column(sa.String(40))
    security_decision_number: so.Mapped[str] = so.mapped_column(sa.String(40))
    status: so.Mapped[str] = so.mapped_column(sa.String(12), default=APPROVED)
    liability_statement: so.Mapped[str] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    ended_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)

    contract = so.relationship("Contract")
    instance = so.relationship("ProcessInstance")
    contractor = so.relationship("Organization")

    @property
    def handler_key(self) -> str:
        """How forms name this subcontractor among the people handling assets (``sub:<id>``)."""
        return f"sub:{self.id}"

    def covers(self, day: date) -> bool:
        """Approved and inside its period on ``day`` (a Tokyo calendar date)."""
        return self.status == APPROVED and self.starts_on <= day <= self.ends_on

    def register_entry(self) -> dict[str, Any]:
        """What the register page shows for this row, liability statement included (Art. 10.2)."""
        return {
            "id": self.id, "handler_key": self.handler_key, "company": self.company,
            "corporate_number": self.corporate_number, "scope": self.scope, "asset_ids": list(self.asset_ids),
            "starts_on": self.starts_on.isoformat(), "ends_on": self.ends_on.isoformat(), "status": self.status,
            "decision_numbers": [self.city_decision_number, self.security_decision_number],
            "liability_statement": self.liability_statement, "instance_id": self.instance_id,
        }


def register_for(contract_id: int) -> list[dict[str, Any]]:
    """The register of one contract, newest first, as page data. Callers check access first."""
    rows = db.session.scalars(sa.select(Subcontractor).where(Subcontractor.contract_id == contract_id)
                              .order_by(Subcontractor.created_at.desc(), Subcontractor.id.desc()))
    return [row.register_entry() for row in rows]
