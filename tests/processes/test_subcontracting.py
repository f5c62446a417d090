"""Every path through subcontracting.bpmn (Art. 10), driven through the engine verbs the views use.

Paths: both approve → registered; the city approver rejects / sends back; the information
policy division rejects / sends back; measures declared below → only a refusal or a
send-back is possible; overdue reviews remind, then escalate. Plus the four-eyes and
segregation rules, bad input, the copying-consent rule that only registered, current
subcontractors of the same contract may handle assets, the demo samples and the HTTP form.
"""
from __future__ import annotations

import io
import re
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tests.helpers import open_task
from tests.processes.flows import act, decisions, mail, outbox, remind_then_escalate
from webapp import accounts, engine, storage, worker
from webapp.engine.calendar import TOKYO
from webapp.extensions import db
from webapp.formschema import FormInvalid
from webapp.models import HumanTask, ProcessInstance
from webapp.models.subcontractors import APPROVED, ENDED, Subcontractor
from webapp.records import registers

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ITEMS = ("certification", "access_control", "training", "incident", "physical")
APPROVE = {"decision": "approve", "finding": "equivalent"}
LIABILITY = "全ての行為及びその結果について責任を負う"


def evidence(user) -> list[int]:
    attachment = storage.store(io.BytesIO(PDF), "ISMS認証書の写し.pdf", user, "evidence")
    db.session.flush()
    return [attachment.id]


def request_data(world, user=None, contract=None, **overrides: Any) -> dict[str, Any]:
    user = user or world.users["kobayashi"]
    contract = contract or world.zei
    codes = ("A-001", "A-003") if contract is world.zei else ("B-001",)
    data: dict[str, Any] = {
        "company": "株式会社南総ソフト", "corporate_number": "1040001012345", "address": "千葉県木更津市",
        "scope": "課税計算バッチのテスト工程", "assets": world.asset_ids(contract, *codes),
        "starts_on": "2026-12-07", "ends_on": "2027-03-31",
    }
    if "evidence" not in overrides:
        data["evidence"] = evidence(user)
    for item in ITEMS:
        data.update({f"{item}_contractor": "乙の水準", f"{item}_subcontractor": "再委託先の水準",
                     f"{item}_comparison": "equal", f"{item}_note": ""})
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def start(world, user=None, contract=None, **overrides: Any) -> ProcessInstance:
    user = user or world.users["kobayashi"]
    instance = engine.start("subcontracting", contract or world.zei, request_data(world, user, contract, **overrides),
                            user)
    db.session.commit()
    return instance


def approve_both(world, instance, city="tanaka", security="takahashi") -> None:
    act(instance, "review_city", world.users[city], **APPROVE)
    act(instance, "review_security", world.users[security], **APPROVE)


def resubmit(instance, user, **changes: Any) -> None:
    back = open_task(instance.id, "request")
    assert back is not None and back.assignee_id == user.id
    engine.complete(back.id, {**instance.request_data, **changes}, user)
    db.session.commit()
    db.session.refresh(instance)


def registered(instance) -> Subcontractor | None:
    return db.session.scalar(sa.select(Subcontractor).where(Subcontractor.instance_id == instance.id))


def register_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Subcontractor))


# --- the paths ------------------------------------------------------------------------------

def test_a_request_waits_for_the_city_approver_first(world):
    instance = start(world)
    task = open_task(instance.id)
    assert (task.spec_id, task.lane) == ("review_city", "city_approver")
    assert instance.reference.startswith("SUB-2026-")
    assert instance.title == "株式会社南総ソフトへの再委託：課税計算バッチのテスト工程"
    # Filed Wednesday 2 December 2026 10:00 JST: due Monday 7 December 17:15 JST.
    assert task.due_at.isoformat() == "2026-12-07T08:15:00+00:00"
    assert outbox("task_created") == [mail("tanaka")]
    assert register_count() == 0


def test_both_approvals_register_the_subcontractor_with_both_numbers_and_the_liability(client, world):
    instance = start(world)
    act(instance, "review_city", world.users["tanaka"], **APPROVE, conditions="作業場所を事前に届け出ること")
    # Approval by the city approver alone registers nothing: the security review is next.
    security = open_task(instance.id)
    assert (security.spec_id, security.lane) == ("review_security", "security_officer")
    assert register_count() == 0
    assert outbox("task_created")[-1] == mail("takahashi")

    act(instance, "review_security", world.users["takahashi"], **APPROVE)
    db.session.refresh(instance)
    assert instance.status == "completed" and instance.outcome == "approve"
    assert open_task(instance.id) is None
    city, policy = decisions(instance)
    assert (city.number, policy.number) == ("木情第2026-00001号", "木情第2026-00002号")
    assert (city.decided_by_id, policy.decided_by_id) == (world.users["tanaka"].id, world.users["takahashi"].id)
    assert city.content["decision"]["finding"] == "equivalent"

    row = registered(instance)
    assert (row.company, row.corporate_number, row.status) == ("株式会社南総ソフト", "1040001012345", APPROVED)
    assert row.contract_id == world.zei.id and row.scope == "課税計算バッチのテスト工程"
    assert row.asset_ids == world.asset_ids(world.zei, "A-001", "A-003")
    assert (row.starts_on.isoformat(), row.ends_on.isoformat()) == ("2026-12-07", "2027-03-31")
    assert (row.city_decision_number, row.security_decision_number) == (city.number, policy.number)
    assert row.contractor.name == "株式会社かずさシステムサービス"
    assert row.liability_statement.startswith("株式会社かずさシステムサービス（乙）は")
    assert "再委託先「株式会社南総ソフト」の" + LIABILITY in row.liability_statement
    assert row.created_at == instance.completed_at

    # The register as the app lists it for the contract, and as its page shows it.
    listed, total = registers.rows(registers.REGISTERS["subcontractors"], world.users["tanaka"], world.zei.id, 1, 50)
    assert [r.handler_key for _contract, r in listed] == [f"sub:{row.id}"] and total == 1
    client.login("tanaka")
    page = client.get(f"/records/registers/subcontractors?contract={world.zei.id}").get_data(as_text=True)
    assert f"{city.number} / {policy.number}" in page
    assert LIABILITY in page
    assert outbox("subcontract_approved") == [mail("kobayashi")]
    assert outbox("request_rejected") == []


def test_the_city_approver_rejects(world):
    instance = start(world)
    with pytest.raises(FormInvalid) as refused:
        engine.complete(open_task(instance.id, "review_city").id, {"decision": "reject"}, world.users["tanaka"])
    db.session.rollback()
    assert "comment" in refused.value.errors
    act(instance, "review_city", world.users["tanaka"], decision="reject", comment="再委託の必要性が不明です。")
    db.session.refresh(instance)
    assert instance.status == "completed" and instance.outcome == "reject"
    assert open_task(instance.id) is None  # the information policy division is never asked
    assert register_count() == 0
    assert outbox("request_rejected") == [mail("kobayashi")]
    assert mail("takahashi") not in outbox("task_created")


def test_the_city_approver_sends_back_and_the_resubmission_is_reviewed_again(world):
    kobayashi = world.users["kobayashi"]
    instance = start(world)
    act(instance, "review_city", world.users["tanaka"], decision="send_back", comment="範囲を具体的に。")
    resubmit(instance, kobayashi, scope="課税計算バッチのテスト工程（結果照合のみ）")
    assert instance.request_version == 2
    assert open_task(instance.id).spec_id == "review_city"
    approve_both(world, instance)
    assert [(d.outcome, d.request_version) for d in decisions(instance)] == [
        ("send_back", 1), ("approve", 2), ("approve", 2)]
    assert registered(instance).scope == "課税計算バッチのテスト工程（結果照合のみ）"


def test_the_information_policy_division_rejects(world):
    instance = start(world)
    act(instance, "review_city", world.users["tanaka"], **APPROVE)
    act(instance, "review_security", world.users["takahashi"], decision="reject",
           finding="below", comment="アクセスログの保存期間が乙を下回ります。")
    db.session.refresh(instance)
    assert instance.status == "completed" and instance.outcome == "reject"
    assert [d.outcome for d in decisions(instance)] == ["approve", "reject"]
    assert register_count() == 0
    assert outbox("request_rejected") == [mail("kobayashi")]
    assert outbox("subcontract_approved") == []


def test_the_information_policy_division_sends_back_and_both_review_again(world):
    kobayashi = world.users["kobayashi"]
    instance = start(world)
    act(instance, "review_city", world.users["tanaka"], **APPROVE)
    act(instance, "review_security", world.users["takahashi"], decision="send_back",
           comment="ISMS認証書の写しの有効期限を確認できる資料を添付してください。")
    back = open_task(instance.id)
    assert back.spec_id == "request" and back.assignee_id == kobayashi.id
    resubmit(instance, kobayashi, certification_note="有効期限 2028-03-31")
    # The city approver's approval was of version 1: the new version starts over with them.
    assert open_task(instance.id).spec_id == "review_city"
    approve_both(world, instance)
    numbers = decisions(instance)
    assert [(d.outcome, d.request_version) for d in numbers] == [
        ("approve", 1), ("send_back", 1), ("approve", 2), ("approve", 2)]
    row = registered(instance)
    assert (row.city_decision_number, row.security_decision_number) == (numbers[2].number, numbers[3].number)


def test_measures_below_the_contractors_cannot_be_approved(world):
    instance = start(world, training_comparison="below", training_note="研修は年1回のみ")
    task = open_task(instance.id)
    # The gateway after the equivalence check skips the approval reviews entirely.
    assert (task.spec_id, task.lane) == ("review_below", "city_approver")
    with pytest.raises(FormInvalid) as refused:
        engine.complete(task.id, {"decision": "approve", "comment": "問題なし"}, world.users["tanaka"])
    db.session.rollback()
    assert "decision" in refused.value.errors
    with pytest.raises(FormInvalid) as refused:
        engine.complete(task.id, {"decision": "reject"}, world.users["tanaka"])
    db.session.rollback()
    assert "comment" in refused.value.errors
    act(instance, "review_below", world.users["tanaka"], decision="reject",
           comment="教育が乙を下回るため、第10条により承認できません。")
    db.session.refresh(instance)
    assert instance.outcome == "reject" and open_task(instance.id) is None
    assert decisions(instance)[0].number == "木情第2026-00001号"
    assert register_count() == 0
    assert outbox("request_rejected") == [mail("kobayashi")]


def test_measures_below_can_be_sent_back_and_improved(world):
    kobayashi = world.users["kobayashi"]
    instance = start(world, physical_comparison="below")
    act(instance, "review_below", world.users["tanaka"], decision="send_back", comment="入退室管理を改善してください。")
    resubmit(instance, kobayashi, physical_comparison="equal", physical_subcontractor="ICカードによる入退室記録を導入")
    assert open_task(instance.id).spec_id == "review_city"
    approve_both(world, instance)
    assert registered(instance).status == APPROVED


@pytest.mark.parametrize("spec_id", ["review_city", "review_security"])
def test_a_reviewer_who_finds_the_measures_below_cannot_approve(world, spec_id):
    instance = start(world)
    if spec_id == "review_security":
        act(instance, "review_city", world.users["tanaka"], **APPROVE)
    user = world.users["tanaka" if spec_id == "review_city" else "takahashi"]
    task = open_task(instance.id, spec_id)
    for data, field in (({"decision": "approve", "finding": "below"}, "decision"),
                        ({"decision": "approve"}, "finding")):
        with pytest.raises(FormInvalid) as refused:
            engine.complete(task.id, data, user)
        db.session.rollback()
        assert field in refused.value.errors
    assert open_task(instance.id).id == task.id
    assert register_count() == 0


# --- who may decide ---------------------------------------------------------------------------

def test_the_requester_may_not_review_their_own_request(world):
    both = accounts.create_user("dual", "二役 太郎", "Two-roles-2026x",
                                roles=["contractor_staff@contract:R8-ZEI-0012", "city_approver@contract:R8-ZEI-0012",
                                       "security_officer"])
    db.session.commit()
    instance = start(world, user=both)
    task = open_task(instance.id, "review_city")
    with pytest.raises(engine.RuleViolation):
        engine.complete(task.id, APPROVE, both)
    db.session.rollback()
    act(instance, "review_city", world.users["tanaka"], **APPROVE)
    task = open_task(instance.id, "review_security")
    with pytest.raises(engine.RuleViolation):
        engine.complete(task.id, APPROVE, both)
    db.session.rollback()
    assert open_task(instance.id).id == task.id


def test_approval_needs_two_different_people(world):
    # One person holding both reviewing roles approves as the city: the second review must be someone else.
    both = accounts.create_user("futari", "兼務 花子", "Two-roles-2026x",
                                roles=["city_approver@dept:D-SHIMINZEI", "security_officer"])
    db.session.commit()
    instance = start(world)
    act(instance, "review_city", both, **APPROVE)
    task = open_task(instance.id, "review_security")
    with pytest.raises(engine.RuleViolation):
        engine.complete(task.id, APPROVE, both)
    db.session.rollback()
    assert register_count() == 0
    act(instance, "review_security", world.users["takahashi"], **APPROVE)
    assert registered(instance) is not None


def test_the_city_approver_cannot_take_the_security_review(world):
    instance = start(world)
    act(instance, "review_city", world.users["tanaka"], **APPROVE)
    task = open_task(instance.id, "review_security")
    with pytest.raises(engine.NotAllowed):
        engine.complete(task.id, APPROVE, world.users["tanaka"])
    db.session.rollback()


# --- deadlines --------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec_id", "reviewer", "chief"), [
    ("review_city", "tanaka", "suzuki"), ("review_below", "tanaka", "suzuki"),
    ("review_security", "takahashi", "morita")])  # the division's review stays in the division
def test_an_overdue_review_reminds_then_escalates(world, clock, spec_id, reviewer, chief):
    below = {"incident_comparison": "below"} if spec_id == "review_below" else {}
    instance = start(world, **below)
    if spec_id == "review_security":
        clock.advance(hours=2)
        act(instance, "review_city", world.users["tanaka"], **APPROVE)
    task = open_task(instance.id, spec_id)
    assert task.due_at.isoformat() == "2026-12-07T08:15:00+00:00"
    # Two business days after the deadline: Wednesday 9 December 17:15 JST.
    remind_then_escalate(instance, task, clock, reminded=[mail(reviewer)], escalates_at="2026-12-09T08:15:00+00:00",
                         escalated_to=[world.users[chief]])
    assert worker.run_once()["timers"] == 0


# --- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "field"), [
    ({"corporate_number": "2040001012345"}, "corporate_number"),  # check digit does not match
    ({"corporate_number": "104000101234"}, "corporate_number"),  # 12 digits
    ({"corporate_number": "1O40001012345"}, "corporate_number"),  # a letter O
    ({"corporate_number": None}, "corporate_number"),
    ({"evidence": []}, "evidence"),
    ({"evidence": None}, "evidence"),
    ({"starts_on": "2027-01-10", "ends_on": "2027-01-09"}, "ends_on"),  # ends before it starts
    ({"starts_on": "2026-12-01"}, "starts_on"),  # in the past: approval must be prior
    ({"ends_on": "2027-04-01"}, "ends_on"),  # after the contract ends
    ({"ends_on": "31 March"}, "ends_on"),
    ({"company": ""}, "company"),
    ({"scope": None}, "scope"),
    ({"assets": []}, "assets"),
    ({"training_comparison": None}, "training_comparison"),
    ({"training_comparison": "much better"}, "training_comparison"),
    ({"physical_subcontractor": ""}, "physical_subcontractor"),
])
def test_bad_requests_are_refused_field_by_field_and_nothing_is_saved(world, overrides, field):
    with pytest.raises(FormInvalid) as refused:
        engine.start("subcontracting", world.zei, request_data(world, **overrides), world.users["kobayashi"])
    db.session.rollback()
    assert field in refused.value.errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 0
    assert register_count() == 0


def test_assets_of_another_contract_are_refused(world):
    with pytest.raises(FormInvalid) as refused:
        engine.start("subcontracting", world.zei, request_data(world, assets=world.asset_ids(world.kai, "B-001")),
                     world.users["kobayashi"])
    db.session.rollback()
    assert "assets" in refused.value.errors


def test_evidence_uploaded_by_someone_else_is_refused(world):
    foreign = evidence(world.users["sato"])
    with pytest.raises(FormInvalid) as refused:
        engine.start("subcontracting", world.zei, request_data(world, evidence=foreign), world.users["kobayashi"])
    db.session.rollback()
    assert "evidence" in refused.value.errors


# --- only registered subcontractors may handle assets elsewhere in the app ------------------

def copying_request(world, contract, handlers: list[str]) -> dict[str, Any]:
    code, due = ("A-001", "2027-03-01") if contract is world.zei else ("B-001", "2028-03-01")
    return {"kind": "copy", "assets": world.asset_ids(contract, code), "purpose": "再委託先での検証作業",
            "copies": 1, "medium": "暗号化USBメモリ", "location": "施錠キャビネット", "handlers": handlers,
            "destruction_due": due}


def file_copying(world, contract, user, handlers: list[str]) -> ProcessInstance:
    instance = engine.start("copying_consent", contract, copying_request(world, contract, handlers), user)
    db.session.commit()
    return instance


def refused_copying(world, contract, user, handlers: list[str]) -> dict[str, list[Any]]:
    with pytest.raises(FormInvalid) as refused:
        engine.start("copying_consent", contract, copying_request(world, contract, handlers), user)
    db.session.rollback()
    return refused.value.errors


def test_a_registered_subcontractor_may_handle_copies_of_its_own_contract_only(world, clock):
    kobayashi, ito = world.users["kobayashi"], world.users["ito"]
    instance = start(world, starts_on="2026-12-02")
    assert "handlers" in refused_copying(world, world.zei, kobayashi, ["sub:1"])  # not approved yet
    approve_both(world, instance)
    sub = registered(instance)
    copying = file_copying(world, world.zei, kobayashi, ["user:kobayashi", sub.handler_key])
    assert copying.request_data["handlers"] == ["user:kobayashi", sub.handler_key]
    assert "handlers" in refused_copying(world, world.zei, kobayashi, [f"sub:{sub.id + 100}"])  # unregistered

    # Another contract's subcontractor is refused here, and accepted on its own contract.
    boso = start(world, user=ito, contract=world.kai, company="房総システム開発株式会社",
                 corporate_number="4010401055555", starts_on="2026-12-02", ends_on="2028-03-31")
    approve_both(world, boso, city="watanabe")
    other = registered(boso)
    assert "handlers" in refused_copying(world, world.zei, kobayashi, [other.handler_key])
    assert file_copying(world, world.kai, ito, [other.handler_key]).status == "running"

    # A subcontractor whose engagement ended is refused.
    sub.status = ENDED
    db.session.commit()
    assert "handlers" in refused_copying(world, world.zei, kobayashi, [sub.handler_key])


def test_a_subcontractor_may_handle_assets_only_within_its_approved_period(world, clock):
    kobayashi = world.users["kobayashi"]
    instance = start(world, starts_on="2026-12-07", ends_on="2026-12-18")
    approve_both(world, instance)
    key = registered(instance).handler_key
    assert "handlers" in refused_copying(world, world.zei, kobayashi, [key])  # 2 December: not started
    clock.set(datetime(2026, 12, 7, 9, 0, tzinfo=TOKYO))
    assert file_copying(world, world.zei, kobayashi, [key]).status == "running"
    clock.set(datetime(2026, 12, 18, 23, 59, tzinfo=TOKYO))
    assert file_copying(world, world.zei, kobayashi, [key]).status == "running"
    clock.set(datetime(2026, 12, 19, 0, 1, tzinfo=TOKYO))
    assert "handlers" in refused_copying(world, world.zei, kobayashi, [key])  # expired


# --- demo samples and the browser form --------------------------------------------------------

def test_demo_samples_load_once(world):
    from webapp.demo import DemoWorld
    from webapp.demo_flows import subcontracting

    subcontracting.load(DemoWorld())
    db.session.commit()
    subcontracting.load(DemoWorld())
    db.session.commit()
    rows = db.session.scalars(sa.select(Subcontractor)).all()
    assert [(r.company, r.contract_id, r.status) for r in rows] == [("株式会社南総ソフト", world.zei.id, APPROVED)]
    waiting = db.session.scalars(sa.select(HumanTask).where(HumanTask.status == "open")).all()
    assert [(t.spec_id, t.process_key) for t in waiting] == [("review_security", "subcontracting")]
    assert file_copying(world, world.zei, world.users["kobayashi"], [rows[0].handler_key]).status == "running"


def test_filing_through_the_browser_form(client, world):
    zei = world.zei
    url = f"/requests/new/subcontracting/{zei.id}"
    client.login("sato")
    page = client.get(url)
    assert page.status_code == 200
    assert "再委託先の法人番号" in page.get_data(as_text=True)
    # The browser uploads its own evidence and posts every value as text.
    form: dict[str, Any] = request_data(world, evidence=None, assets=[str(i) for i in world.asset_ids(zei, "A-003")])

    bad = client.submit(url, {**form, "corporate_number": "2040001012345", "ends_on": "2026-12-01"})
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    for field in ("corporate_number", "ends_on", "evidence"):
        assert f'id="f-{field}-err"' in html, field
    assert 'value="株式会社南総ソフト"' in html  # what was typed is kept
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)) == 0

    filed = client.submit(url, {**form, "evidence": (io.BytesIO(PDF), "対策比較表.pdf")}, follow_redirects=True)
    assert filed.status_code == 200
    reference = re.search(r"SUB-2026-\d{5}", filed.get_data(as_text=True)).group(0)
    instance = db.session.scalar(sa.select(ProcessInstance).where(ProcessInstance.reference == reference))
    assert instance.request_data["certification_comparison"] == "equal"
    assert open_task(instance.id).spec_id == "review_city"
