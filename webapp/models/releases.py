"""The release register (Art. 13, 15): one row per approved production migration or configuration change.

A row is opened when the city approves in writing and filled in step by step by the flow
``production_migration``: the backup (what, on which medium, where, verified), who performed
the migration and when, the result and the post-migration check, and the city's
confirmation. Keeping it as its own table (not only inside workflow state) is what lets
auditors (Art. 18) and later flows ask "who migrated what, with which backup" without
loading any workflow.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so

from ..extensions import db
from .types import UTCDateTime, utcnow

# Status of a release, in the order the flow sets them.
APPROVED = "approved"
BACKED_UP = "backed_up"
MIGRATED = "migrated"
REPORTED = "reported"
CONFIRMED = "confirmed"

PROGRAM = "program"  # Art. 13(1), Art. 15: program source from development to production
CONFIG = "config"  # Art. 13(2): network or system configuration change

SUCCESS = "success"
ROLLED_BACK = "rolled_back"


class ReleaseRecord(db.Model):
    """One approved migration or configuration change and the evidence Art. 15 asks for.

    ``components`` holds the changed programs (program migration) or the affected systems
    (configuration change), one entry per line of the request. Times are UTC.
    """

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    contract_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("contract.id"), index=True)
    instance_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("process_instance.id"), unique=True)
    variant: so.Mapped[str] = so.mapped_column(sa.String(20))
    title: so.Mapped[str] = so.mapped_column(sa.String(200))
    components: so.Mapped[list[str]] = so.mapped_column(sa.JSON)
    window_start: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    window_end: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    status: so.Mapped[str] = so.mapped_column(sa.String(20), default=APPROVED)
    # The city's written approval (Art. 13, Art. 15(3)).
    approval_number: so.Mapped[str] = so.mapped_column(sa.String(40))
    approved_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime)
    # The backup before migration, kept on a storage medium (Art. 15(3)).
    backup_items: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    backup_medium: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    backup_location: so.Mapped[str] = so.mapped_column(sa.String(300), default="")
    backup_verification: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    backup_verified: so.Mapped[bool] = so.mapped_column(default=False)
    backup_taken_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    backup_recorded_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    backup_recorded_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    # Who migrated: never the developer who filed the request (Art. 15(2)).
    performed_by_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("user.id"))
    migration_started_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    migration_finished_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    # The work report (Art. 15(1)); overwritten when a corrected report is resubmitted.
    result: so.Mapped[str] = so.mapped_column(sa.String(20), default="")
    post_check: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    reported_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    # The city's confirmation that the work is complete.
    confirmation_number: so.Mapped[Optional[str]] = so.mapped_column(sa.String(40))
    confirmed_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    contract = so.relationship("Contract")
    instance = so.relationship("ProcessInstance")
    performed_by = so.relationship("User", foreign_keys=[performed_by_id])
    backup_recorded_by = so.relationship("User", foreign_keys=[backup_recorded_by_id])

    @property
    def backup_recorded(self) -> bool:
        return self.backup_recorded_at is not None
