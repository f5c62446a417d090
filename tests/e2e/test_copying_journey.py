"""The walking skeleton's journey in a real browser: file, send back, correct, approve, print.

Also: the request form shows only the fields the chosen kind needs, the pages fit a phone,
and the decision can be made with the keyboard alone.
"""
from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e


def test_file_send_back_correct_approve_in_the_browser(new_page, live_server, tmp_path):
    evidence = tmp_path / "手順書.pdf"
    evidence.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")

    contractor = new_page("kobayashi")
    contractor.click("text=新規申請")
    contractor.click("a:has-text('R8-ZEI-0012')")
    # Only the fields of the chosen kind are shown.
    contractor.check("input[name=kind][value=other_purpose]")
    assert contractor.locator("#f-copies").is_hidden()
    contractor.check("input[name=kind][value=copy]")
    assert contractor.locator("#f-copies").is_visible()
    contractor.check("input[name=assets] >> nth=0")
    contractor.fill("#f-purpose", "検証環境での課税計算の確認")
    contractor.fill("#f-copies", "2")
    contractor.fill("#f-medium", "暗号化USBメモリ")
    contractor.fill("#f-location", "サーバ室キャビネット")
    contractor.check("input[name=handlers][value='user:kobayashi']")
    contractor.fill("#f-destruction_due", "2027-03-01")
    contractor.set_input_files("#f-evidence", str(evidence))
    contractor.click("form.schema-form button[type=submit]")
    contractor.wait_for_load_state("networkidle")
    reference = re.search(r"CPY-2026-\d{5}", contractor.content()).group(0)
    assert "手順書.pdf" in contractor.content()

    approver = new_page("tanaka")
    approver.click(f"tr:has-text('{reference}') >> text=市の承諾審査")
    approver.check("input[name=decision][value=send_back]")
    approver.fill("#f-comment", "部数の根拠を記載してください。")
    approver.click("form.schema-form button[type=submit]")
    approver.wait_for_load_state("networkidle")
    assert approver.locator(f"table.tasks tr:has-text('{reference}')").count() == 0  # off the inbox until resubmitted

    contractor.goto(f"{live_server.url}/")
    contractor.click(f"tr:has-text('{reference}') >> text=承諾申請の入力")
    assert "部数の根拠を記載してください。" in contractor.content()
    assert contractor.input_value("#f-purpose") == "検証環境での課税計算の確認"  # prefilled
    contractor.fill("#f-copies", "1")
    contractor.click("form.schema-form button[type=submit]")
    contractor.wait_for_load_state("networkidle")

    approver.goto(f"{live_server.url}/")
    approver.click(f"tr:has-text('{reference}') >> text=市の承諾審査")
    approver.check("input[name=decision][value=approve]")
    approver.fill("#f-conditions", "作業後に消去すること")
    approver.click("form.schema-form button[type=submit]")
    approver.wait_for_load_state("networkidle")
    approver.goto(f"{live_server.url}/records/")
    approver.click(f"text={reference}")
    approver.click("a:has-text('木情第2026-') >> nth=-1")  # the approval: the last written decision
    document = approver.locator("article.document").inner_text()
    assert "承諾書" in document and "作業後に消去すること" in document and "田中 誠" in document
    assert new_page.errors == []


def test_pages_fit_a_phone_and_decisions_work_by_keyboard(browser, live_server):
    from webapp import engine
    from webapp.extensions import db
    from webapp.models import Asset, Contract, HumanTask, User

    with live_server.app.app_context():
        contract = db.session.scalar(db.select(Contract).where(Contract.number == "R8-ZEI-0012"))
        kobayashi = db.session.scalar(db.select(User).where(User.username == "kobayashi"))
        asset = db.session.scalar(db.select(Asset.id).where(Asset.contract_id == contract.id))
        instance = engine.start("copying_consent", contract, {"kind": "other_purpose", "assets": [asset],
                                                               "purpose": "参照", "handlers": ["user:kobayashi"]},
                                kobayashi)
        db.session.commit()
        task_id = db.session.scalar(db.select(HumanTask.id).where(HumanTask.instance_id == instance.id,
                                                                  HumanTask.status == "open"))
        db.session.remove()

    context = browser.new_context(locale="ja-JP", viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/auth/login")
    page.fill("#username", "tanaka")
    page.fill("#password", "shodaku-demo-2026")
    page.keyboard.press("Enter")  # logging in by keyboard too
    page.wait_for_url(lambda url: "/auth/login" not in url)
    for path in ("/", f"/tasks/{task_id}", f"/records/{instance.id}", "/records/", "/requests/new"):
        page.goto(live_server.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"{path} scrolls sideways on a phone ({overflow}px)"
    # Keyboard only: focus the first decision option, choose it with the arrow keys, submit with Enter.
    page.goto(f"{live_server.url}/tasks/{task_id}")
    page.focus("input[name=decision][value=approve]")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    while page.evaluate("document.activeElement.type") != "submit":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    assert "「市の承諾審査」を完了しました" in page.content()
    context.close()
