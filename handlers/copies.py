"""The copy register (Art. 3(2)): consented copies, to be destroyed at contract end (Art. 5)."""
from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import lazy_gettext as _l

from webapp.models import CopyRecord

from . import Context, handler
from ._guards import require_approval, require_contract_assets


@handler("register_copy")
def register_copy(ctx: Context, assets: list[int], copies: int, medium: str, location: str,
                  handlers: list[Any], destruction_due: str, purpose: str = "") -> dict[str, Any]:
    """Enter an approved copy in the register, linked to its written consent.

    Refuses to register without a decision record: the diagram must put this step after
    the city's approval, and the guardrail checks that it does.
    """
    require_approval(ctx, _l("A copy can only be registered after the city's written consent."))
    require_contract_assets(ctx, assets)
    record = CopyRecord(
        contract_id=ctx.instance.contract_id, instance_id=ctx.instance.id, decision_number=ctx.decision.number,
        asset_ids=list(assets), description=purpose, copies=int(copies), medium=medium, location=location,
        handlers=list(handlers), destruction_due=date.fromisoformat(destruction_due),
    )
    ctx.session.add(record)
    ctx.session.flush()
    ctx.audit("copy_registered", {"copy_record": record.id, "decision": ctx.decision.number})
    return {"copy_record_id": record.id}
