"""Test helpers: a driven clock, a client that handles CSRF, and the demo world by name."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient

from webapp.engine.calendar import TOKYO

# Wednesday 2 December 2026, 10:00 in Tokyo: a plain business day inside both demo contracts.
DEFAULT_NOW = datetime(2026, 12, 2, 10, 0, tzinfo=TOKYO).astimezone(UTC)
DEMO_PASSWORD = "shodaku-demo-2026"
_CSRF = re.compile(r'name="((?:[\w-]+-)?csrf_token)" (?:type="hidden" )?value="([^"]+)"')


class FakeClock:
    """The app's clock in tests: set or advance it instead of sleeping."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now

    def set(self, moment: datetime) -> datetime:
        self.now = moment.astimezone(UTC)
        return self.now


class Client(FlaskClient):
    """A browser stand-in: fetches a CSRF token from a real form before posting.

    Each request runs in its own app context (own ``g``, own database session), as in
    production; Flask would otherwise reuse the test's app context for every request.
    Afterwards the test's own session is expired, so it reads what the request wrote.
    """

    def open(self, *args: Any, **kwargs: Any):
        from webapp.extensions import db

        context = self.application.app_context()
        context.push()
        try:
            return super().open(*args, **kwargs)
        finally:
            context.pop()
            db.session.expire_all()

    def csrf_fields(self, page: str) -> dict[str, str]:
        """Every CSRF field on the page (prefixed forms name theirs ``<prefix>-csrf_token``)."""
        fields = dict(_CSRF.findall(self.get(page).get_data(as_text=True)))
        assert fields, f"no CSRF token on {page}"
        return fields

    def csrf_token(self, page: str | None = None) -> str:
        return self.csrf_fields(page or "/auth/login")["csrf_token"]

    def login(self, username: str, password: str = DEMO_PASSWORD, follow: bool = False):
        token = self.csrf_token("/auth/login")
        return self.post("/auth/login", data={"username": username, "password": password, "csrf_token": token},
                         follow_redirects=follow)

    def logout(self):
        return self.post("/auth/logout", data={"csrf_token": self.csrf_token("/auth/settings")})

    def submit(self, url: str, data: dict[str, Any] | None = None, *, page: str | None = None, **kwargs: Any):
        """POST a form the way a browser would, with the CSRF token of the page it is on."""
        payload = dict(data or {})
        payload.update(self.csrf_fields(page or url))
        return self.post(url, data=payload, content_type="multipart/form-data", **kwargs)


@dataclass
class World:
    """The demo world's rows, by the names tests use."""

    users: dict[str, Any]
    contracts: dict[str, Any]

    @classmethod
    def load(cls) -> World:
        from webapp.extensions import db
        from webapp.models import Contract, User

        users = {u.username: u for u in db.session.scalars(sa.select(User))}
        contracts = {c.number: c for c in db.session.scalars(sa.select(Contract))}
        return cls(users, contracts)

    @property
    def zei(self):
        """The tax-system contract: contractor かずさ (kobayashi, sato), city 市民税課 (tanaka, suzuki)."""
        return self.contracts["R8-ZEI-0012"]

    @property
    def kai(self):
        """The care-insurance contract: contractor 房総 (ito), city 介護保険課 (watanabe)."""
        return self.contracts["R8-KAI-0034"]

    def asset_ids(self, contract, *codes: str) -> list[int]:
        from webapp.extensions import db
        from webapp.models import Asset

        return list(db.session.scalars(sa.select(Asset.id).where(Asset.contract_id == contract.id,
                                                                  Asset.code.in_(codes)).order_by(Asset.code)))


def open_task(instance_id: int, spec_id: str | None = None):
    from webapp.extensions import db
    from webapp.models import HumanTask

    query = sa.select(HumanTask).where(HumanTask.instance_id == instance_id, HumanTask.status == "open")
    if spec_id:
        query = query.where(HumanTask.spec_id == spec_id)
    return db.session.scalar(query.order_by(HumanTask.id.desc()).limit(1))


def start_copying(world, purpose: str = "参照"):
    """Kobayashi (contractor, 税務システム) asks to use asset A-003 for another purpose; committed.

    The smallest real request: its first open task is the city's ``approve`` for tanaka."""
    from webapp import engine
    from webapp.extensions import db

    data = {"kind": "other_purpose", "assets": world.asset_ids(world.zei, "A-003"), "purpose": purpose,
            "handlers": ["user:kobayashi"]}
    instance = engine.start("copying_consent", world.zei, data, world.users["kobayashi"])
    db.session.commit()
    return instance
