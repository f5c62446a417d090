"""The process owner changes a flow in the browser; requests already running are not disturbed.

中村 (process owner) opens copying_consent in the modeler, renames the approval and changes
its deadline through the properties panel, validates and deploys version 2. 小林
(contractor) then files a request, which runs on version 2, while a request filed before
(on version 1) is approved by 田中 and finishes on version 1.
"""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.helpers import open_task

pytestmark = pytest.mark.e2e

NEW_NAME = "市の承諾審査（改訂版）"


def _db(live_server):
    """The live server's app context, for setting up and checking rows directly."""
    return live_server.app.app_context()


def _start_v1_request(live_server) -> int:
    from tests.helpers import World
    from webapp import engine
    from webapp.extensions import db

    with _db(live_server):
        world = World.load()
        instance = engine.start("copying_consent", world.zei, {
            "kind": "other_purpose", "assets": world.asset_ids(world.zei, "A-001"), "purpose": "旧版での申請",
            "handlers": ["user:kobayashi"]}, world.users["kobayashi"])
        db.session.commit()
        assert instance.definition.version == 1
        return instance.id


def refused_then_accepted(page, entry: str, bad: str, good: str) -> None:
    """The panel field ``entry`` shows an error for ``bad`` and none once ``good`` is typed back."""
    field = page.locator(f"#bio-properties-panel-{entry}")
    error = page.locator(f"[data-entry-id='{entry}'] .bio-properties-panel-error")
    field.fill(bad)
    page.wait_for_timeout(600)  # the panel's input debounce
    assert error.count() == 1, (entry, bad)
    field.fill(good)
    field.press("Tab")
    page.wait_for_timeout(600)
    assert error.count() == 0, (entry, good)


def test_owner_edits_validates_and_deploys_while_old_requests_finish_on_v1(live_server, new_page):
    from webapp.extensions import db
    from webapp.models import ProcessDefinition, ProcessInstance

    old_id = _start_v1_request(live_server)
    base = live_server.url

    # --- 中村 edits the approval in the modeler -----------------------------------------------
    owner = new_page("nakamura")
    owner.goto(f"{base}/designer/")
    owner.click("a[href='/designer/copying_consent/']")
    owner.click("a[href='/designer/copying_consent/edit']")
    owner.wait_for_selector(".djs-container")
    palette = owner.locator(".djs-palette").bounding_box()
    pool = owner.locator("g.djs-element[data-element-id^='Participant_']").first.bounding_box()
    assert pool["x"] >= palette["x"] + palette["width"]  # the whole diagram shows, none of it under the palette
    owner.click("g.djs-element[data-element-id='approve']", position={"x": 20, "y": 20})
    name = owner.locator("#bio-properties-panel-name")
    name.fill(NEW_NAME)
    due = owner.locator("#bio-properties-panel-shodaku-due")
    assert due.input_value() == "3bd"
    due.fill("5bd")
    due.press("Tab")
    owner.wait_for_timeout(600)  # the panel's input debounce

    owner.click("#designer-validate")
    owner.wait_for_selector("#designer-status.good")
    assert owner.locator("#designer-problems li").count() == 0

    # a broken edit is highlighted, then fixed
    due.fill("soon")
    due.press("Tab")
    owner.wait_for_timeout(600)
    owner.click("#designer-validate")
    owner.wait_for_selector("#designer-status.bad")
    assert "approve" in owner.locator("#designer-problems").inner_text()
    assert owner.locator("g.djs-element.shodaku-problem[data-element-id='approve']").count() == 1
    due.fill("5bd")
    due.press("Tab")
    owner.wait_for_timeout(600)

    # the panel refuses what the server would refuse (calendar.parse_due, parse.PREFIX) before any round trip
    refused_then_accepted(owner, "shodaku-due", "0bd", "5bd")
    owner.click("g.djs-element[data-element-id='Participant_copying_consent']", position={"x": 15, "y": 60})
    assert owner.locator("#bio-properties-panel-shodaku-reference_prefix").input_value() == "CPY"
    refused_then_accepted(owner, "shodaku-reference_prefix", "CPYABCDEFGH", "CPY")  # 11 characters: the server allows 10

    owner.fill("#designer-note", "承諾審査の名称と期限（5営業日）を変更")
    owner.click("#designer-deploy")
    owner.wait_for_url(re.compile(r".*/designer/copying_consent/$"))
    assert "承諾審査の名称と期限（5営業日）を変更" in owner.content()
    assert owner.locator("table.designer-versions tbody tr").count() == 2

    with _db(live_server):
        v2 = db.session.scalar(sa.select(ProcessDefinition).where(ProcessDefinition.key == "copying_consent")
                               .order_by(ProcessDefinition.version.desc()).limit(1))
        assert v2.version == 2 and v2.meta["tasks"]["approve"]["name"] == NEW_NAME
        assert v2.meta["tasks"]["approve"]["due"] == "5bd" and v2.deployed_by.username == "nakamura"
        contract_id = db.session.scalar(sa.text("select id from contract where number = 'R8-ZEI-0012'"))

    # --- 小林 files a new request: it runs on version 2 ----------------------------------------
    contractor = new_page("kobayashi")
    contractor.goto(f"{base}/requests/new/copying_consent/{contract_id}")
    contractor.check("input[name=kind][value=other_purpose]")
    contractor.locator("input[name=assets]").first.check()
    contractor.fill("#f-purpose", "新版での申請")
    contractor.locator("input[name=handlers]").first.check()
    contractor.click("form.schema-form button[type=submit]")
    contractor.wait_for_load_state("networkidle")
    with _db(live_server):
        new = db.session.scalar(sa.select(ProcessInstance).where(ProcessInstance.id != old_id)
                                .order_by(ProcessInstance.id.desc()).limit(1))
        assert new is not None and new.definition.version == 2
        assert open_task(new.id, "approve").title == NEW_NAME
        old_task_id = open_task(old_id, "approve").id
        assert open_task(old_id, "approve").title == "市の承諾審査"

    # --- 田中 approves the old request: it finishes on version 1 ------------------------------
    approver = new_page("tanaka")
    approver.goto(f"{base}/tasks/{old_task_id}")
    approver.check("input[name=decision][value=approve]")
    approver.click("form.schema-form button[type=submit]")
    approver.wait_for_load_state("networkidle")
    with _db(live_server):
        old = db.session.get(ProcessInstance, old_id)
        assert old.status == "completed" and old.outcome == "approve" and old.definition.version == 1

    # the record shows the path taken on the version-1 diagram
    approver.goto(f"{base}/records/{old_id}")
    approver.wait_for_selector("#instance-diagram .djs-container")
    assert approver.locator("g.djs-element.shodaku-completed[data-element-id='approve']").count() == 1
    assert approver.locator("g.djs-element.shodaku-taken[data-element-id='flow_not_copy']").count() == 1
    assert new_page.errors == []  # no script error on any page
