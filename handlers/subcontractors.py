"""Subcontracting (Art. 10): the security-equivalence rule and the subcontractor register.

Art. 10 allows a subcontractor only if its information security is equal to or better than
the contractor's *and* the city gave prior written approval; the contractor then answers
for everything the subcontractor does (Art. 10(2)). The diagram draws the rule as a check
before the reviews plus a gateway; :func:`register_subcontractor` re-checks every
condition itself, so a diagram edited to skip a step still cannot register anyone.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l

from webapp import decisions
from webapp.models import Decision
from webapp.models.subcontractors import Subcontractor, liability_statement

from . import Context, HandlerError, handler
from ._guards import require_approval, require_contract_assets

# The items the request compares, in the order the form shows them.
ITEMS = ("certification", "access_control", "training", "incident", "physical")
# Comparisons that satisfy Art. 10; anything else (including a missing item) fails closed.
ACCEPTABLE = frozenset({"above", "equal"})
EQUIVALENT_FINDING = "equivalent"


def items_below(comparisons: Mapping[str, Any]) -> list[str]:
    """The items on which the subcontractor is not shown equal or better (missing counts as below)."""
    return [item for item in ITEMS if comparisons.get(item) not in ACCEPTABLE]


@handler("assess_equivalence")
def assess_equivalence(ctx: Context, comparisons: Mapping[str, Any]) -> dict[str, Any]:
    """Flag the items declared below the contractor's, for the gateway after this step.

    Returns ``{"equivalent": bool, "below": [items]}``; the diagram stores it as
    ``equivalence`` and routes a request with any item below to a refusal-only answer.
    """
    below = items_below(comparisons)
    ctx.audit("subcontract_equivalence_checked", {"equivalent": not below, "below": below})
    return {"equivalent": not below, "below": below}


def _finding(decision: Decision) -> Any:
    return (decision.content or {}).get("decision", {}).get("finding")


def _check_approvals(ctx: Context, city_review: str) -> Decision:
    """Both written approvals, on the same request version, each finding the measures equivalent."""
    require_approval(ctx, _l("A subcontractor can only be registered after the written approval of the "
                             "information policy division."))
    # The city approver's approval of the very version the security officer just approved.
    city = decisions.approval_on_version(ctx.instance, ctx.decision.request_version, spec_id=city_review)
    if city is None:
        raise HandlerError(_l("A subcontractor can only be registered after the city approver's written approval "
                              "of the same version of the request."))
    if _finding(city) != EQUIVALENT_FINDING or _finding(ctx.decision) != EQUIVALENT_FINDING:
        raise HandlerError(_l("Both reviewers must find the subcontractor's measures equal or better (Art. 10)."))
    return city


def _liable_party(ctx: Context) -> tuple[Any, str]:
    """乙, or 丙 when the requester works for the contract's second contractor."""
    contract = ctx.instance.contract
    requester_org = ctx.instance.requester.organization_id
    if contract.second_contractor_id is not None and requester_org == contract.second_contractor_id:
        return contract.second_contractor, "丙"
    return contract.contractor, "乙"


@handler("register_subcontractor")
def register_subcontractor(ctx: Context, company: str, corporate_number: str, scope: str, assets: list[int],
                           starts_on: str, ends_on: str, comparisons: Mapping[str, Any],
                           city_review: str) -> dict[str, Any]:
    """Enter an approved subcontractor in the contract's register with both decision numbers.

    Refuses (the whole action rolls back) unless: the security officer's approval is the
    decision just recorded; the city approver (task ``city_review``) approved the same
    request version; both found the measures equivalent; no item is below; and every
    asset belongs to the contract.
    """
    city = _check_approvals(ctx, city_review)
    below = items_below(comparisons)
    if below:
        raise HandlerError(_l("Measures below the contractor's on %(items)s: Art. 10 forbids approval.", items=", ".join(below)))
    require_contract_assets(ctx, assets)
    party, role = _liable_party(ctx)
    row = Subcontractor(
        contract_id=ctx.instance.contract_id, instance_id=ctx.instance.id, contractor_id=party.id, company=company,
        corporate_number=corporate_number, scope=scope, asset_ids=list(assets),
        starts_on=date.fromisoformat(starts_on), ends_on=date.fromisoformat(ends_on),
        city_decision_number=city.number, security_decision_number=ctx.decision.number,
        liability_statement=liability_statement(party.name, role, company), created_at=ctx.now, updated_at=ctx.now,
    )
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("subcontractor_registered", {"subcontractor": row.id, "company": company,
                                           "decisions": [city.number, ctx.decision.number]})
    return {"subcontractor_id": row.id, "handler_key": row.handler_key}
