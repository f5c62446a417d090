"""Operations and attacks: health, consistency check, login throttling, evidence export, audit chain."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile

import sqlalchemy as sa

from tests.helpers import open_task, start_copying
from webapp import engine
from webapp.extensions import db
from webapp.models import AuditEvent, HumanTask, ProcessInstance

PDF = b"%PDF-1.4\n%%EOF\n"



def test_healthz_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok", "database": "ok"}


def test_check_finds_an_inbox_that_disagrees_with_the_workflow(runner, world):
    instance = start_copying(world)
    ok = runner.invoke(args=["check"])
    assert ok.exit_code == 0 and "consistent" in ok.output
    task = open_task(instance.id)
    task.status = "cancelled"
    db.session.execute(sa.update(ProcessInstance).where(ProcessInstance.id == instance.id)
                       .values(next_timer_at=None))
    db.session.commit()
    broken = runner.invoke(args=["check"])
    assert broken.exit_code == 1
    assert "approve" in broken.output and "not in the inbox" in broken.output
    assert "next_timer_at" in broken.output


def test_login_throttling_after_repeated_failures(client, clock):
    for _ in range(5):
        assert client.login("tanaka", "wrong-password-1").status_code == 401
    blocked = client.login("tanaka")  # even the right password waits
    assert blocked.status_code == 429
    assert "分後" in blocked.get_data(as_text=True) or "minute" in blocked.get_data(as_text=True)
    assert client.login("suzuki").status_code == 302  # other people are not affected
    client.logout()
    clock.advance(minutes=16)
    assert client.login("tanaka").status_code == 302


def test_audit_chain_detects_a_changed_row(runner, world):
    start_copying(world)
    assert runner.invoke(args=["verify-audit"]).exit_code == 0
    target = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "request_submitted"))
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == target.id)
                       .values(detail={"process": "copying_consent", "forged": True}))
    db.session.commit()
    result = runner.invoke(args=["verify-audit"])
    assert result.exit_code == 1 and f"BROKEN at event {target.seq}" in result.output


def test_audit_chain_detects_a_deleted_row(runner, world):
    start_copying(world)
    victim = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.seq).offset(2).limit(1))
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id == victim.id))
    db.session.commit()
    result = runner.invoke(args=["verify-audit"])
    assert result.exit_code == 1 and f"event {victim.seq} is missing" in result.output


def test_evidence_export_holds_every_record_of_the_contract_with_a_manifest(client, world):
    client.login("kobayashi")
    form = {"kind": "other_purpose", "assets": [str(world.asset_ids(world.zei, "A-003")[0])], "purpose": "参照",
            "handlers": ["user:kobayashi"], "evidence": (io.BytesIO(PDF), "証跡.pdf")}
    assert client.submit(f"/requests/new/copying_consent/{world.zei.id}", form).status_code == 302
    client.logout()
    instance = db.session.scalar(sa.select(ProcessInstance))
    engine.complete(open_task(instance.id).id, {"decision": "approve"}, world.users["tanaka"])
    db.session.commit()

    url = f"/records/contracts/{world.zei.id}/export.zip"
    client.login("tanaka")  # sees the contract, but exports are for auditors
    assert client.submit(url, {}, page="/records/contracts").status_code == 403
    client.logout()
    client.login("ito")
    assert client.submit(url, {}, page="/records/contracts").status_code == 404
    client.logout()
    client.login("kato")
    assert client.get(url).status_code == 405  # never by a plain link
    with client.submit(url, {}, page="/records/contracts") as response:
        assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
        archive = zipfile.ZipFile(io.BytesIO(response.data))
    manifest = json.loads(archive.read("manifest.json"))
    for name, digest in manifest["files"].items():
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest
    request = json.loads(archive.read(f"requests/{instance.reference}/request.json"))
    assert request["decisions"][0]["outcome"] == "approve" and request["decisions"][0]["decided_by"] == "tanaka"
    assert any(n.endswith("_証跡.pdf") for n in archive.namelist())
    events = json.loads(archive.read("audit/events.json"))
    assert {e["action"] for e in events} >= {"request_submitted", "task_completed"}
    assert all(e["hash"] for e in events)
    assert manifest["exported_by"] == "kato"
    assert db.session.scalar(sa.select(AuditEvent.action).order_by(AuditEvent.seq.desc()).limit(1)) == "evidence_exported"


def test_projection_rows_never_outlive_their_workflow(world):
    instance = start_copying(world)
    engine.complete(open_task(instance.id).id, {"decision": "approve"}, world.users["tanaka"])
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(HumanTask)
                             .where(HumanTask.instance_id == instance.id, HumanTask.status == "open")) == 0
