"""Which processes a person may start, on which of their contracts."""
from __future__ import annotations

from dataclasses import dataclass

from .. import access, engine
from ..models import Contract, ProcessDefinition, User


@dataclass
class Startable:
    definition: ProcessDefinition
    contracts: list[Contract]


def startable(user: User) -> list[Startable]:
    contracts = access.visible_contracts(user)
    out = []
    for definition in engine.latest_versions():
        allowed = [c for c in contracts if access.can_start(user, definition.meta.get("starters", []), c)]
        if allowed:
            out.append(Startable(definition, allowed))
    return out
