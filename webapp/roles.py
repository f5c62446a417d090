"""The role keys lanes are named after (DESIGN rule 7), with their labels and sides."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

CITY = "city"
CONTRACTOR = "contractor"
SYSTEM = "system"


@dataclass(frozen=True)
class Role:
    key: str
    side: str
    label: object
    sees_all: bool = False  # reads every contract's records when granted globally


ROLES: dict[str, Role] = {r.key: r for r in (
    Role("contractor_staff", CONTRACTOR, _l("Contractor staff")),
    Role("contractor_manager", CONTRACTOR, _l("Contractor information manager")),
    Role("city_approver", CITY, _l("City approver")),
    Role("city_supervisor", CITY, _l("City section chief")),
    Role("city_director", CITY, _l("City department director")),
    Role("security_officer", CITY, _l("Information policy division"), sees_all=True),
    # Escalation target for the division's own decisions: never a department chief, who must
    # not give the division's written permission (Art. 10, 12).
    Role("security_supervisor", CITY, _l("Information policy division chief"), sees_all=True),
    Role("process_owner", SYSTEM, _l("Process owner")),
    Role("auditor", SYSTEM, _l("Auditor"), sees_all=True),
    Role("admin", SYSTEM, _l("Administrator"), sees_all=True),
)}

# Lanes a diagram may use: roles that act inside flows.
LANE_ROLES = frozenset(k for k, r in ROLES.items() if r.side in (CITY, CONTRACTOR))


def label(key: str) -> str:
    role = ROLES.get(key)
    return str(role.label) if role else key


def is_city_lane(key: str) -> bool:
    role = ROLES.get(key)
    return role is not None and role.side == CITY
