"""Test helpers: a driven clock, a client that handles CSRF, and the demo world by name.

The clock, the client's base and the configuration live in :mod:`webapp.testing`, shared with the bench.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from webapp.testing import DEFAULT_NOW, CsrfClient, FakeClock

__all__ = ["DEFAULT_NOW", "DEMO_PASSWORD", "Client", "FakeClock", "World", "open_task", "start_copying"]

DEMO_PASSWORD = "shodaku-demo-2026"


class Client(CsrfClient):
    """The tests' browser: after each request the test's own session is expired, so it reads
    what the request wrote; logs in with the demo password."""

    expire_after_request = True
    password = DEMO_PASSWORD

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
