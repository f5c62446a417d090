"""The subcontractor register (Art. 10): who may do part of a contract's work besides 乙/丙.

A row exists only because the ``subcontracting`` flow ended with both written approvals
(the city approver's and the information policy division's), so each row names both
decision numbers. Other flows read this register to refuse work by anyone not in it
(see :mod:`webapp.formsources.subcontractors`). Rows are never deleted: an engagement
that is over is marked ``ended``, because Art. 2 protection and Art. 18 audits outlive it.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

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
        return self.handler_key_of(self.id)

    @staticmethod
    def handler_key_of(subcontractor_id: int) -> str:
        return f"sub:{subcontractor_id}"
