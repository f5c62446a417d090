"""The walking skeleton's journey over HTTP, as people do it in the browser.

A contractor files a copying request with an attachment; the approver sends it back; the
contractor corrects and resubmits; the approver approves; the written consent can be
printed and the copy is in the register.
"""
from __future__ import annotations

import io
import re

import sqlalchemy as sa

from tests.helpers import open_task
from webapp.extensions import db
from webapp.models import Attachment, CopyRecord, Decision, ProcessInstance

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def request_form(world, **overrides):
    form = {
        "kind": "copy", "assets": [str(i) for i in world.asset_ids(world.zei, "A-001")],
        "purpose": "検証環境での課税計算の確認", "copies": "2", "medium": "暗号化USBメモリ", "location": "サーバ室キャビネット",
        "handlers": ["user:kobayashi"], "destruction_due": "2027-03-01",
    }
    form.update(overrides)
    return form


def test_file_send_back_resubmit_approve_print(app, client, world):
    zei = world.zei
    client.login("kobayashi")
    page = client.get(f"/requests/new/copying_consent/{zei.id}")
    assert page.status_code == 200
    assert "令和8年度 住民税課税データ" in page.get_data(as_text=True)  # the contract's own assets are offered

    form = request_form(world)
    form["evidence"] = (io.BytesIO(PDF), "作業手順書.pdf")
    filed = client.submit(f"/requests/new/copying_consent/{zei.id}", form, follow_redirects=True)
    assert filed.status_code == 200, re.findall(r"class=\"error\"[^>]*>([^<]*)", filed.get_data(as_text=True)) or filed.get_data(as_text=True)[:3000]
    html = filed.get_data(as_text=True)
    reference = re.search(r"CPY-2026-\d{5}", html).group(0)
    assert f"{reference}" in html and "作業手順書.pdf" in html
    assert f"({len(PDF)} B, sha256" in html  # a tiny file's size in bytes, not "0.0 KB"
    instance = db.session.scalar(sa.select(ProcessInstance).where(ProcessInstance.reference == reference))
    client.logout()

    # The approver sends it back with a comment.
    client.login("tanaka")
    inbox = client.get("/").get_data(as_text=True)
    assert "市の承諾審査" in inbox and reference in inbox
    task = open_task(instance.id, "approve")
    refused = client.submit(f"/tasks/{task.id}", {"decision": "send_back"})
    assert refused.status_code == 400  # a send-back needs a comment
    assert "入力してください" in refused.get_data(as_text=True) or "required" in refused.get_data(as_text=True)
    sent = client.submit(f"/tasks/{task.id}", {"decision": "send_back", "comment": "部数の根拠を記載してください。"})
    assert sent.status_code == 302
    client.logout()

    # The contractor sees the comment, corrects and resubmits (the file is kept).
    client.login("kobayashi")
    back = open_task(instance.id, "request")
    page = client.get(f"/tasks/{back.id}").get_data(as_text=True)
    assert "部数の根拠を記載してください。" in page
    assert 'value="検証環境での課税計算の確認"' not in page  # textarea, prefilled below
    assert "検証環境での課税計算の確認" in page
    kept = db.session.scalar(sa.select(Attachment.id).where(Attachment.instance_id == instance.id))
    resubmitted = client.submit(f"/tasks/{back.id}", request_form(world, copies="1", evidence=[str(kept)]))
    assert resubmitted.status_code == 302
    client.logout()

    # The approver approves version 2.
    client.login("tanaka")
    task = open_task(instance.id, "approve")
    approved = client.submit(f"/tasks/{task.id}", {"decision": "approve", "conditions": "作業後に消去すること"})
    assert approved.status_code == 302
    decision = db.session.scalar(sa.select(Decision).where(Decision.instance_id == instance.id,
                                                           Decision.outcome == "approve"))
    assert decision.request_version == 2
    printed = client.get(f"/records/{instance.id}/decisions/{decision.id}").get_data(as_text=True)
    assert decision.number in printed and "作業後に消去すること" in printed and "田中 誠" in printed
    register = client.get("/records/registers/copies").get_data(as_text=True)
    assert decision.number in register
    assert db.session.scalar(sa.select(CopyRecord.copies).where(CopyRecord.instance_id == instance.id)) == 1
    attachment = db.session.scalar(sa.select(Attachment).where(Attachment.instance_id == instance.id))
    with client.get(f"/records/files/{attachment.id}") as download:
        assert download.status_code == 200 and download.data == PDF
        assert "attachment" in download.headers["Content-Disposition"]
        assert download.headers["X-Content-Type-Options"] == "nosniff"


def test_bad_input_shows_field_messages_and_keeps_what_was_typed(client, world):
    client.login("kobayashi")
    url = f"/requests/new/copying_consent/{world.zei.id}"
    form = request_form(world, copies="", destruction_due="2027-04-30", purpose="目的は明記済み")
    form["evidence"] = (io.BytesIO(PDF), "手順書.pdf")
    response = client.submit(url, form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert html.count('class="error"') >= 2  # copies and destruction date
    assert "目的は明記済み" in html and "暗号化USBメモリ" in html  # typed values kept
    assert "手順書.pdf" in html  # the uploaded file is offered again, not lost
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 0
    kept = db.session.scalar(sa.select(Attachment))
    assert kept.instance_id is None and kept.uploaded_by_id == world.users["kobayashi"].id
    # Fixing the fields and keeping the file files the request with it.
    fixed = client.submit(url, request_form(world, evidence=[str(kept.id)]))
    assert fixed.status_code == 302
    db.session.refresh(kept)
    assert kept.instance_id is not None


def test_refused_upload_types_are_explained(client, world):
    client.login("kobayashi")
    form = request_form(world)
    form["evidence"] = (io.BytesIO(b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64), "tool.pdf")
    response = client.submit(f"/requests/new/copying_consent/{world.zei.id}", form)
    assert response.status_code == 400
    assert "tool.pdf" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Attachment)) == 0
