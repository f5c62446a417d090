"""The registers pages: each flow's register, limited to the contracts the user sees."""
from __future__ import annotations

import pytest

from webapp import demo
from webapp.extensions import db


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
    client.logout()
    client.login("ito")  # 房総データ: contract R8-KAI-0034
    devices = client.get("/records/registers/devices").get_data(as_text=True)
    assert "R8-KAI-0034" in devices
    assert "南総ソフト" not in client.get("/records/registers/subcontractors").get_data(as_text=True)
    assert "R8-KAI-0034" in client.get("/records/registers/incidents").get_data(as_text=True)


def test_an_unknown_register_is_404(client):
    client.login("tanaka")
    assert client.get("/records/registers/secrets").status_code == 404
