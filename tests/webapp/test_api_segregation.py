"""Segregation of duties (Art. 15(2)) over HTTP: the developer cannot migrate to production.

The JSON API applies the same engine checks as the HTML task page; a refusal is a JSON
envelope the client can act on (403 ``rule_violation``), or an error page, and leaves
nothing behind.
"""
from __future__ import annotations

import io

import sqlalchemy as sa

from tests.processes.test_production_migration import BACKUP, MIGRATION, program_request, report
from tests.helpers import open_task as open_row
from webapp.auth import tokens
from webapp.extensions import db
from webapp.models.releases import ReleaseRecord


def bearer(world, username: str) -> dict[str, str]:
    _row, token = tokens.create(world.users[username], "t")
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def open_task(client, headers, step: str) -> dict:
    items = client.get("/api/v1/tasks", headers=headers).json["items"]
    found = [t for t in items if t["step"] == step and t["status"] == "open"]
    assert found, f"no open {step} task among {[t['step'] for t in items]}"
    return found[0]


def complete(client, headers, step: str, data: dict):
    return client.post(f"/api/v1/tasks/{open_task(client, headers, step)['id']}/complete", headers=headers,
                       json={"data": data})


def file_and_back_up(client, world, *, refile: bool) -> tuple[dict, dict, dict, int]:
    """kobayashi (the developer) files; tanaka approves (after one send-back if ``refile``); kobayashi backs up."""
    developer, migrator, approver = bearer(world, "kobayashi"), bearer(world, "sato"), bearer(world, "tanaka")
    data = program_request(world)
    db.session.commit()  # the uploads are kobayashi's pending files
    started = client.post("/api/v1/instances", headers=developer,
                          json={"process": "production_migration", "contract_id": world.zei.id, "data": data})
    assert started.status_code == 201, started.json
    if refile:
        assert complete(client, approver, "approve",
                        {"decision": "send_back", "comment": "作業時間帯を見直してください。"}).status_code == 200
        assert complete(client, developer, "request", {**data, "window_start": "2026-12-13T01:00",
                                                        "window_end": "2026-12-13T03:00"}).status_code == 200
    assert complete(client, approver, "approve", {"decision": "approve"}).status_code == 200
    assert complete(client, developer, "backup", BACKUP).status_code == 200
    return developer, migrator, approver, started.json["id"]


def release(instance_id: int) -> ReleaseRecord:
    db.session.expire_all()
    return db.session.scalar(sa.select(ReleaseRecord).where(ReleaseRecord.instance_id == instance_id))


def mentions_article_15_2(message: str) -> bool:
    return "Art. 15(2)" in message or "第15条第2項" in message


def test_the_developer_is_refused_the_migration_with_403_rule_violation(client, world):
    developer, migrator, approver, instance_id = file_and_back_up(client, world, refile=True)
    task = open_task(client, developer, "migrate")
    refused = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=developer, json={"data": MIGRATION})
    assert refused.status_code == 403 and refused.json["error"] == "rule_violation"
    assert mentions_article_15_2(refused.json["message"])
    assert release(instance_id).performed_by_id is None
    assert client.get(f"/api/v1/tasks/{task['id']}", headers=developer).json["status"] == "open"

    done = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=migrator, json={"data": MIGRATION})
    assert done.status_code == 200 and done.json["task"]["completed_by"] == "sato"
    assert release(instance_id).performed_by_id == world.users["sato"].id
    work_report = report(world)
    db.session.commit()  # sato's upload, named by the report
    assert complete(client, migrator, "report", work_report).status_code == 200
    confirmed = complete(client, approver, "confirm", {"decision": "approve"})
    assert confirmed.status_code == 200 and confirmed.json["instance"]["status"] == "completed"
    record = client.get(f"/api/v1/instances/{instance_id}", headers=developer).json
    assert [d["outcome"] for d in record["decisions"]] == ["send_back", "approve", "approve"]
    assert release(instance_id).confirmation_number == record["decisions"][2]["number"]


def test_a_refused_migration_leaves_nothing_behind(client, world):
    """On the first filing too, the developer cannot migrate and the step stays open for someone else."""
    developer, migrator, _approver, instance_id = file_and_back_up(client, world, refile=False)
    task = open_task(client, developer, "migrate")
    refused = client.post(f"/api/v1/tasks/{task['id']}/complete", headers=developer, json={"data": MIGRATION})
    assert refused.status_code == 403 and mentions_article_15_2(refused.json["message"])
    record = release(instance_id)
    assert record.performed_by_id is None and record.status == "backed_up"
    assert client.post(f"/api/v1/tasks/{task['id']}/complete", headers=migrator,
                       json={"data": MIGRATION}).status_code == 200


def test_the_developer_who_filed_the_request_is_refused_with_403_rule_violation(client, world):
    developer, _migrator, _approver, _instance_id = file_and_back_up(client, world, refile=False)
    refused = complete(client, developer, "migrate", MIGRATION)
    assert (refused.status_code, refused.json["error"]) == (403, "rule_violation")


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_the_html_forms_file_back_up_and_refuse_the_developer(client, world):
    """The browser path: datetime-local fields, uploads, the backup checkbox, and the refusal page."""
    client.login("kobayashi")
    url = f"/requests/new/production_migration/{world.zei.id}"
    page = client.get(url).get_data(as_text=True)
    assert 'type="datetime-local"' in page and 'name="test_results"' in page
    form = program_request(world, schedule_files=None, test_results=None)  # the browser uploads its own
    form["schedule_files"] = (io.BytesIO(PDF), "作業工程表.pdf")
    without_results = client.submit(url, dict(form))
    assert without_results.status_code == 400 and 'id="f-test_results-err"' in without_results.get_data(as_text=True)
    form["schedule_files"] = (io.BytesIO(PDF), "作業工程表.pdf")
    form["test_results"] = (io.BytesIO(PDF), "テスト結果.pdf")
    filed = client.submit(url, form)
    assert filed.status_code == 302
    instance_id = int(filed.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    client.logout()

    client.login("tanaka")
    assert client.submit(f"/tasks/{open_row(instance_id, 'approve').id}", {"decision": "approve"}).status_code == 302
    client.logout()

    client.login("kobayashi")
    backup_url = f"/tasks/{open_row(instance_id, 'backup').id}"
    fields = {k: v for k, v in BACKUP.items() if k != "backup_verified"}
    unticked = client.submit(backup_url, fields)
    assert unticked.status_code == 400 and 'id="f-backup_verified-err"' in unticked.get_data(as_text=True)
    assert client.submit(backup_url, {**fields, "backup_verified": "true"}).status_code == 302
    migrate_url = f"/tasks/{open_row(instance_id, 'migrate').id}"
    refused = client.submit(migrate_url, MIGRATION)
    assert refused.status_code == 403
    assert mentions_article_15_2(refused.get_data(as_text=True))
    assert release(instance_id).performed_by_id is None
    client.logout()

    client.login("sato")
    assert client.submit(migrate_url, MIGRATION).status_code == 302
    assert release(instance_id).performed_by_id == world.users["sato"].id
