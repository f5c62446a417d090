"""The append-only, hash-chained history (DESIGN rule 8)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .types import UTCDateTime

BigInt = sa.BigInteger().with_variant(sa.Integer, "sqlite")


class AuditEvent(db.Model):
    """One recorded act. ``seq`` is the event's position in the chain, gap-free."""

    __table_args__ = (sa.Index("ix_audit_event_instance_seq", "instance_id", "seq"),)

    id: so.Mapped[int] = so.mapped_column(BigInt, primary_key=True)
    seq: so.Mapped[int] = so.mapped_column(BigInt, unique=True)
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    actor_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    action: so.Mapped[str] = so.mapped_column(sa.String(60))
    instance_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("process_instance.id"))
    contract_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("contract.id"), index=True)
    detail: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    prev_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    hash: so.Mapped[str] = so.mapped_column(sa.String(64))

    actor = so.relationship("User")


class AuditChain(db.Model):
    """The single row holding the chain's head.

    Appending updates this row first, which serializes appenders on both databases (a row
    lock on PostgreSQL, the write lock on SQLite) until their transaction ends, so the
    chain can never fork.
    """

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    seq: so.Mapped[int] = so.mapped_column(BigInt, default=0)
    last_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
