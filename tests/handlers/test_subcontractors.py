"""The subcontracting handlers on their own: the equivalence rule fails closed, and the register
refuses every entry the provisions do not allow, even if a diagram were edited to skip a step.
Also the handler-option provider that keeps unregistered subcontractors out of other forms.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

import handlers
from handlers.subcontractors import assess_equivalence, items_below, register_subcontractor
from tests.helpers import open_task
from tests.processes.flows import act
from tests.processes.test_subcontracting import APPROVE, ITEMS, approve_both, registered, start
from webapp import accounts, clock
from webapp.extensions import db
from webapp.formschema import SOURCES, FormContext
from webapp.formsources.subcontractors import approved_subcontractors
from webapp.models.subcontractors import ENDED, Subcontractor

EQUAL = {item: "equal" for item in ITEMS}


def context(instance, decision: Any = None, audit: list | None = None) -> handlers.Context:
    log = audit if audit is not None else []
    return handlers.Context(session=db.session, instance=instance, actor_id=None, now=clock.now(), data={},
                            decision=decision, audit=lambda action, detail: log.append((action, detail)))


def security_approval(version: int = 1, finding: str = "equivalent", outcome: str = "approve") -> SimpleNamespace:
    """Stands in for the decision the engine records when the security officer completes the review."""
    return SimpleNamespace(outcome=outcome, number="木情第2026-09999号", request_version=version,
                           content={"decision": {"decision": outcome, "finding": finding}})


def params(world, **overrides: Any) -> dict[str, Any]:
    values = {"company": "株式会社南総ソフト", "corporate_number": "1040001012345", "scope": "テスト工程",
              "assets": world.asset_ids(world.zei, "A-001"), "starts_on": "2026-12-07", "ends_on": "2027-03-31",
              "comparisons": dict(EQUAL), "city_review": "review_city"}
    values.update(overrides)
    return values


@pytest.fixture
def city_approved(world):
    """A request the city approver approved (version 1), waiting for the security review."""
    instance = start(world)
    act(instance, "review_city", world.users["tanaka"], **APPROVE)
    return instance


def test_only_above_or_equal_counts_and_anything_else_fails_closed():
    assert items_below(EQUAL) == []
    assert items_below({**EQUAL, "training": "above"}) == []
    assert items_below({**EQUAL, "training": "below"}) == ["training"]
    assert items_below({**EQUAL, "physical": "同等"}) == ["physical"]
    missing = dict(EQUAL)
    del missing["incident"]
    assert items_below(missing) == ["incident"]
    assert items_below({}) == list(ITEMS)


def test_the_equivalence_check_flags_and_audits(world, city_approved):
    audit: list = []
    result = assess_equivalence(context(city_approved, audit=audit), comparisons={**EQUAL, "access_control": "below"})
    assert result == {"equivalent": False, "below": ["access_control"]}
    assert audit == [("subcontract_equivalence_checked", {"equivalent": False, "below": ["access_control"]})]


def test_the_handlers_are_registered_under_the_names_the_diagram_uses():
    assert handlers.REGISTRY["assess_equivalence"] is assess_equivalence
    assert handlers.REGISTRY["register_subcontractor"] is register_subcontractor


@pytest.mark.parametrize(("decision", "overrides", "message"), [
    (None, {}, "information policy division"),
    (security_approval(outcome="reject"), {}, "information policy division"),
    (security_approval(version=2), {}, "city approver"),  # the city approved version 1 only
    (security_approval(finding="below"), {}, "equal or better"),
    (security_approval(), {"city_review": "review_below"}, "city approver"),
    (security_approval(), {"comparisons": {**EQUAL, "incident": "below"}}, "incident"),
    (security_approval(), {"comparisons": {}}, "Art. 10"),
    (security_approval(), {"assets": [999_999]}, "assets"),
])
def test_the_register_refuses_what_art_10_does_not_allow(world, city_approved, decision, overrides, message):
    with pytest.raises(handlers.HandlerError, match=message):
        register_subcontractor(context(city_approved, decision), **params(world, **overrides))
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Subcontractor)) == 0


def test_the_register_refuses_when_the_city_approver_did_not_approve(world):
    instance = start(world)
    act(instance, "review_city", world.users["tanaka"], decision="send_back", comment="修正してください。")
    with pytest.raises(handlers.HandlerError, match="city approver"):
        register_subcontractor(context(instance, security_approval()), **params(world))
    db.session.rollback()


def test_a_registered_entry_names_both_numbers_and_who_answers_for_it(world, city_approved):
    audit: list = []
    result = register_subcontractor(context(city_approved, security_approval(), audit), **params(world))
    row = db.session.get(Subcontractor, result["subcontractor_id"])
    assert result["handler_key"] == f"sub:{row.id}"
    assert (row.city_decision_number, row.security_decision_number) == ("木情第2026-00001号", "木情第2026-09999号")
    assert row.liability_statement == (
        "株式会社かずさシステムサービス（乙）は、甲（木更津市）に対し、再委託先「株式会社南総ソフト」の全ての行為及び"
        "その結果について責任を負う（情報セキュリティ取扱特記事項 第10条第2項）。")
    assert audit[-1][0] == "subcontractor_registered"
    assert audit[-1][1]["decisions"] == ["木情第2026-00001号", "木情第2026-09999号"]


def test_the_second_contractor_answers_for_its_own_subcontractor(world):
    # かずさ is 丙 on the care-insurance contract: its own request makes it the liable party.
    hei = accounts.create_user("hei", "丙 担当", "Second-party-2026", org_code="C-KAZUSA",
                               roles=["contractor_staff@contract:R8-KAI-0034"])
    db.session.commit()
    instance = start(world, user=hei, contract=world.kai, starts_on="2026-12-02", ends_on="2028-03-31")
    approve_both(world, instance, city="watanabe")
    row = registered(instance)
    assert row.contractor.name == "株式会社かずさシステムサービス"
    assert row.liability_statement.startswith("株式会社かずさシステムサービス（丙）は")


def test_the_handler_options_offer_current_subcontractors_of_the_contract_only(world, clock):
    instance = start(world, starts_on="2026-12-02")
    kobayashi = world.users["kobayashi"]
    assert approved_subcontractors(FormContext(world.zei, kobayashi)) == []
    approve_both(world, instance)
    row = registered(instance)
    expected = [(f"sub:{row.id}", "株式会社南総ソフト（再委託先）")]
    assert approved_subcontractors(FormContext(world.zei, kobayashi)) == expected
    assert approved_subcontractors(FormContext(world.kai, world.users["ito"])) == []
    options = SOURCES["handlers"](FormContext(world.zei, kobayashi))
    assert options[0] == ("user:kobayashi", f"{kobayashi.display_name}（{kobayashi.organization.name}）")
    assert options[-1] == expected[0]
    assert options.count(expected[0]) == 1  # offered once, however the providers were imported
    row.status = ENDED
    db.session.flush()
    assert approved_subcontractors(FormContext(world.zei, kobayashi)) == []
    assert open_task(instance.id) is None
