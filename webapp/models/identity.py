"""People, organizations and what they may do (DESIGN rule 7)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Optional

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_login import UserMixin

from ..extensions import db
from .types import UTCDateTime, utcnow

# Organization kinds
CITY = "city"
CONTRACTOR = "contractor"

# Role scopes
GLOBAL = "global"
DEPARTMENT = "department"
CONTRACT = "contract"


class Organization(db.Model):
    """A city department (課) or a contractor company (乙/丙)."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    code: so.Mapped[str] = so.mapped_column(sa.String(40), unique=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    name_en: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    kind: so.Mapped[str] = so.mapped_column(sa.String(20))
    parent_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("organization.id"))
    corporate_number: so.Mapped[Optional[str]] = so.mapped_column(sa.String(13))
    is_information_policy: so.Mapped[bool] = so.mapped_column(default=False)

    parent: so.Mapped[Optional["Organization"]] = so.relationship(remote_side=[id])

    def __repr__(self) -> str:
        return f"<Organization {self.code}>"


class User(UserMixin, db.Model):
    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    username: so.Mapped[str] = so.mapped_column(sa.String(80), unique=True)
    display_name: so.Mapped[str] = so.mapped_column(sa.String(120))
    display_name_en: so.Mapped[str] = so.mapped_column(sa.String(120), default="")
    email: so.Mapped[str] = so.mapped_column(sa.String(254), default="")
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(200))
    organization_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("organization.id"), index=True)
    locale: so.Mapped[str] = so.mapped_column(sa.String(5), default="ja")
    active: so.Mapped[bool] = so.mapped_column(default=True)
    # Bumped on password change: invalidates every other session of the user.
    session_epoch: so.Mapped[int] = so.mapped_column(default=0)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    last_login_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)

    organization: so.Mapped[Optional[Organization]] = so.relationship()
    grants: so.Mapped[list["RoleGrant"]] = so.relationship(
        back_populates="user", foreign_keys="RoleGrant.user_id", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # flask-login
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class RoleGrant(db.Model):
    """A role held globally, for a city department, or for one contract."""

    __table_args__ = (
        sa.CheckConstraint(
            "(scope = 'global' AND department_id IS NULL AND contract_id IS NULL) OR "
            "(scope = 'department' AND department_id IS NOT NULL AND contract_id IS NULL) OR "
            "(scope = 'contract' AND contract_id IS NOT NULL AND department_id IS NULL)",
            name="scope_target",
        ),
        sa.Index("ix_role_grant_user_role", "user_id", "role"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    role: so.Mapped[str] = so.mapped_column(sa.String(40), index=True)
    scope: so.Mapped[str] = so.mapped_column(sa.String(12))
    department_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("organization.id"), index=True)
    contract_id: so.Mapped[Optional[int]] = so.mapped_column(sa.ForeignKey("contract.id"), index=True)

    user: so.Mapped[User] = so.relationship(back_populates="grants", foreign_keys=[user_id])


class Substitute(db.Model):
    """While ``from_user`` is away, ``to_user`` may act on their tasks (代理承認)."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    from_user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"), index=True)
    to_user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id"), index=True)
    starts_on: so.Mapped[date] = so.mapped_column(sa.Date)
    ends_on: so.Mapped[date] = so.mapped_column(sa.Date)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    from_user: so.Mapped[User] = so.relationship(foreign_keys=[from_user_id])
    to_user: so.Mapped[User] = so.relationship(foreign_keys=[to_user_id])


class ApiToken(db.Model):
    """A personal access token; only its sha256 is stored."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(80))
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    prefix: so.Mapped[str] = so.mapped_column(sa.String(12))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    last_used_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)
    revoked_at: so.Mapped[Optional[datetime]] = so.mapped_column(UTCDateTime)

    user: so.Mapped[User] = so.relationship()
