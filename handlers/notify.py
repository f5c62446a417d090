"""Messages to people named by the flow, written to the outbox (sent after commit)."""
from __future__ import annotations

from typing import Any

from . import Context, handler


@handler("notify_requester")
def notify_requester(ctx: Context, event: str) -> dict[str, Any]:
    """Tell the requester what happened to their request (``event`` names the mail template)."""
    ctx.notify([ctx.instance.requester_id], event)
    return {"notified": event}
