"""Messages to people named by the flow, written to the outbox (sent after commit)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import Context, handler


@handler("notify_requester")
def notify_requester(ctx: Context, event: str, roles: Iterable[str] = ()) -> dict[str, Any]:
    """Mail ``event`` (a mail template) to the requester and the holders of ``roles`` on the contract, once each.

    The engine already mails the candidates of every new task; this reaches people who have
    no task but must know at once: the requester of the outcome, and for an incident the
    section chief on a new report or the contractor on closure.
    """
    ids = [ctx.instance.requester_id, *(person.id for role in roles for person in ctx.role_holders(role))]
    recipients = list(dict.fromkeys(ids))
    ctx.notify(recipients, event)
    return {"event": event, "recipients": len(recipients)}


# The incident diagram's name for the same step; a deployed diagram keeps the names it calls.
incident_inform = handler("incident_inform")(notify_requester)
