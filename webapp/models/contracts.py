"""Contracts and the information assets they hand over (Art. 1, 4)."""
from __future__ import annotations

from datetime import date
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .identity import Organization


class Contract(db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    number: so.Mapped[str] = so.mapped_column(sa.String(40), unique=True)
    title: so.Mapped[str] = so.mapped_column(sa.String(200))
    department_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organization.id"), index=True)
    contractor_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organization.id"), index=True)
    second_contractor_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("organization.id"))
    starts_on: so.Mapped[date] = so.mapped_column(sa.Date)
    ends_on: so.Mapped[date] = so.mapped_column(sa.Date)
    # Art. 4: the information manager (情報管理責任者) notified in writing.
    info_manager_name: so.Mapped[str] = so.mapped_column(sa.String(120), default="")
    info_manager_title: so.Mapped[str] = so.mapped_column(sa.String(120), default="")

    department: so.Mapped[Organization] = so.relationship(foreign_keys=[department_id])
    contractor: so.Mapped[Organization] = so.relationship(foreign_keys=[contractor_id])
    second_contractor: so.Mapped[Optional[Organization]] = so.relationship(foreign_keys=[second_contractor_id])

    def __repr__(self) -> str:
        return f"<Contract {self.number}>"


class Asset(db.Model):
    """An information asset handed over under a contract (資産台帳)."""

    __table_args__ = (sa.UniqueConstraint("contract_id", "code", name="uq_asset_contract_code"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    contract_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contract.id"), index=True)
    code: so.Mapped[str] = so.mapped_column(sa.String(40))
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    classification: so.Mapped[str] = so.mapped_column(sa.String(40), default="")
    description: so.Mapped[str] = so.mapped_column(sa.Text, default="")

    contract: so.Mapped[Contract] = so.relationship()
