"""代理承認: while the approver is away, a substitute decides, seeing everything needed."""
from __future__ import annotations

import sqlalchemy as sa

from tests.helpers import open_task
from webapp import accounts, engine
from webapp.extensions import db
from webapp.models import Decision, Substitute


def test_a_substitute_sees_the_request_and_decides_during_the_period_only(client, runner, world, clock):
    outsider = accounts.create_user("ogawa", "小川 代理", "Substitute-2026x",
                                    roles=["city_approver@dept:D-KAIGO"])  # another department
    db.session.commit()
    instance = engine.start("copying_consent", world.zei, {
        "kind": "other_purpose", "assets": world.asset_ids(world.zei, "A-003"), "purpose": "参照",
        "handlers": ["user:kobayashi"]}, world.users["kobayashi"])
    db.session.commit()
    task = open_task(instance.id)
    client.login("ogawa", "Substitute-2026x")
    assert client.get(f"/tasks/{task.id}").status_code == 404  # not yet a substitute
    client.logout()
    result = runner.invoke(args=["substitute", "tanaka", "ogawa", "--from", "2026-12-01", "--until", "2026-12-04"])
    assert result.exit_code == 0, result.output
    client.login("ogawa", "Substitute-2026x")
    assert task.instance_reference in client.get("/").get_data(as_text=True)
    assert client.get(f"/records/{instance.id}").status_code == 200  # the evidence, not only the task
    assert instance.reference in client.get("/records/").get_data(as_text=True)  # and listed with the rest
    clock.set(clock.now.replace(day=5))  # after the period
    assert client.get(f"/records/{instance.id}").status_code == 404
    assert instance.reference not in client.get("/records/").get_data(as_text=True)
    assert instance.reference not in client.get("/").get_data(as_text=True)
    clock.set(clock.now.replace(day=3))
    assert client.submit(f"/tasks/{task.id}", {"decision": "approve"}).status_code == 302
    decision = db.session.scalar(sa.select(Decision))
    assert decision.decided_by_id == outsider.id  # the record names who actually decided


def test_substitution_refuses_nonsense(runner):
    itself = runner.invoke(args=["substitute", "tanaka", "tanaka", "--from", "2026-12-01", "--until", "2026-12-04"])
    assert itself.exit_code == 1 and "cannot substitute for themselves" in itself.output
    backwards = runner.invoke(args=["substitute", "tanaka", "suzuki", "--from", "2026-12-05", "--until", "2026-12-04"])
    assert backwards.exit_code == 1 and "ends before it starts" in backwards.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Substitute)) == 0
