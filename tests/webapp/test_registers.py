"""The registers pages: each flow's register, limited to the contracts the user sees."""
from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa

from webapp import demo, engine
from webapp.extensions import db
from webapp.models import CopyRecord, ProcessInstance


@pytest.fixture
def demo_requests(app, clock):
    demo.load_requests()
    db.session.commit()


def test_each_register_lists_its_rows_for_people_of_the_contract(client, demo_requests):
    client.login("tanaka")  # 市民税課: contract R8-ZEI-0012
    subcontractors = client.get("/records/registers/subcontractors").get_data(as_text=True)
    assert "株式会社南総ソフト" in subcontractors and "責任" in subcontractors  # Art. 10(2) statement shown
    assert "R8-KAI-0034" not in client.get("/records/registers/devices").get_data(as_text=True)
    copies = client.get("/records/registers/copies").get_data(as_text=True)
    assert "木情第2026-" in copies
    others = re.search(r'<div class="heading">.*?<p>(.*?)</p>', copies, re.S).group(1)
    assert others.count("<a ") == 4 and others.count(" · ") == 3  # the other registers, no dangling separator
    client.logout()
    client.login("ito")  # 房総データ: contract R8-KAI-0034
    devices = client.get("/records/registers/devices").get_data(as_text=True)
    assert "R8-KAI-0034" in devices
    assert "南総ソフト" not in client.get("/records/registers/subcontractors").get_data(as_text=True)
    assert "R8-KAI-0034" in client.get("/records/registers/incidents").get_data(as_text=True)


def test_an_unknown_register_is_404(client):
    client.login("tanaka")
    assert client.get("/records/registers/secrets").status_code == 404


def test_a_long_register_is_paged_and_its_last_row_is_reachable(app, client, world):
    """No row is cut off: with 1,001 copies on one contract, the 1,001st is on the last page."""
    definition = engine.latest_version("copying_consent")
    kobayashi = world.users["kobayashi"]
    asset = world.asset_ids(world.zei, "A-001")
    db.session.execute(sa.insert(ProcessInstance), [
        {"definition_id": definition.id, "process_key": definition.key, "contract_id": world.zei.id,
         "requester_id": kobayashi.id, "reference": f"CPY-BULK-{n:05d}", "title": "複写", "status": "completed",
         "state": "{}", "serializer_version": "1"} for n in range(1, 1002)])
    ids = db.session.scalars(sa.select(ProcessInstance.id).where(ProcessInstance.reference.like("CPY-BULK-%"))
                             .order_by(ProcessInstance.reference)).all()
    db.session.execute(sa.insert(CopyRecord), [
        {"contract_id": world.zei.id, "instance_id": instance_id, "decision_number": f"木情第2026-{n:05d}号",
         "asset_ids": asset, "description": "", "copies": 1, "medium": "USB", "location": "サーバ室",
         "handlers": ["user:kobayashi"], "destruction_due": date(2027, 3, 1)} for n, instance_id in enumerate(ids, 1)])
    db.session.commit()
    per_page = app.config["INBOX_PAGE_SIZE"]
    last = -(-1001 // per_page)

    client.login("tanaka")
    first = client.get("/records/registers/copies").get_data(as_text=True)
    assert "木情第2026-00001号" in first and "木情第2026-01001号" not in first
    assert "令和8年度 住民税課税データ" in first  # the assets column names the asset
    assert "/records/registers/copies?page=2" in first  # the pager stays on this register
    page = client.get(f"/records/registers/copies?page={last}").get_data(as_text=True)
    assert "木情第2026-01001号" in page and "木情第2026-00001号" not in page
