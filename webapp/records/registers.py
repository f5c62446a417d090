"""The registers the flows keep, listed per contract the user may see.

One description per register (model, title, columns): adding a register is adding an
entry here. Columns are attribute names or functions of the row; a column ``asset_ids``
shows the assets' names. Pages are as long as the records index's.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from .. import access, formschema, presenters
from ..engine import latest_version
from ..extensions import db
from ..models import Asset, Contract, CopyRecord, User
from ..models.devices import Device
from ..models.incidents import Incident
from ..models.releases import ReleaseRecord
from ..models.subcontractors import Subcontractor


@dataclass(frozen=True)
class Register:
    key: str
    title: Any
    article: Any
    model: Any
    columns: list[tuple[Any, str | Callable[[Any], Any]]]
    order: Any
    process: str = ""  # codes in columns named like a form field are shown with the form's labels
    hint: Any = ""


REGISTERS: dict[str, Register] = {r.key: r for r in (
    Register("devices", _l("Device register"), _l("Art. 12"), Device, [
        (_l("Kind"), "kind"), (_l("Model"), "model"), (_l("Serial number"), "serial"), (_l("Owner"), "owner"),
        (_l("Place"), "place"), (_l("Network connection"), "connection"), (_l("Permitted from"), "valid_from"),
        (_l("Permitted until"), "valid_until"), (_l("Status"), "status"),
        (_l("Written permission"), lambda r: " / ".join(n for n in (r.city_decision_number, r.security_decision_number)
                                                          if n))], Device.valid_until.desc(), "device_connection"),
    Register("subcontractors", _l("Subcontractor register"), _l("Art. 10"), Subcontractor, [
        (_l("Company"), "company"), (_l("Corporate number"), "corporate_number"), (_l("Scope of work"), "scope"),
        (_l("From"), "starts_on"), (_l("Until"), "ends_on"), (_l("Status"), "status"),
        (_l("Written approval"), lambda r: " / ".join(n for n in (r.city_decision_number, r.security_decision_number)
                                                        if n)),
        (_l("Responsibility (Art. 10(2))"), "liability_statement")], Subcontractor.starts_on.desc(), "subcontracting"),
    Register("releases", _l("Release register"), _l("Art. 13, 15"), ReleaseRecord, [
        (_l("Variant"), "variant"), (_l("Title"), "title"), (_l("Window from"), "window_start"),
        (_l("Window until"), "window_end"), (_l("Approval"), "approval_number"),
        (_l("Backup on"), "backup_medium"), (_l("Backup verified"), "backup_verified"), (_l("Result"), "result"),
        (_l("Status"), "status"), (_l("Completion confirmed"), "confirmation_number")], ReleaseRecord.id.desc(),
        "production_migration"),
    Register("incidents", _l("Incident register"), _l("Art. 9, 19"), Incident, [
        (_l("Kind"), "kind"), (_l("Summary"), "summary"), (_l("Found at"), "found_at"), (_l("Severity"), "severity"),
        (_l("People affected"), "people_affected"), (_l("Damage"), "damage"), (_l("Closed at"), "closed_at"),
        (_l("Closure decision"), "closure_decision_number")], Incident.found_at.desc(), "incident_response"),
    Register("copies", _l("Copy register"), _l("Art. 3, 5"), CopyRecord, [
        (_l("Assets"), "asset_ids"), (_l("Copies"), "copies"), (_l("Medium"), "medium"), (_l("Kept at"), "location"),
        (_l("Destroy by"), "destruction_due"), (_l("Consent"), "decision_number")], CopyRecord.destruction_due,
        hint=_l("Copies made with the city's written consent (Art. 3(2)). Each must be erased or destroyed and "
                "reported by the end of the contract (Art. 5).")),
)}


def rows(register: Register, user: User, contract_id: int | None, page: int,
         per_page: int) -> tuple[list[tuple[Contract, Any]], int]:
    """One page of the register's rows on contracts the user sees, and how many there are in all.

    The row id breaks ties in the register's order, so no row falls between two pages.
    """
    model = register.model
    query = sa.select(model, Contract).join(Contract, Contract.id == model.contract_id).where(
        access.contract_filter(user, model.contract_id))
    if contract_id:
        query = query.where(model.contract_id == contract_id)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    page_rows = db.session.execute(query.order_by(register.order, model.id).limit(per_page)
                                   .offset((page - 1) * per_page))
    return [(contract, row) for row, contract in page_rows], total


def labeller(register: Register, rows: list[tuple[Contract, Any]]) -> Callable[[Any, str | Callable[[Any], Any]], Any]:
    """``cell(row, column)`` for the template: the value, with codes and asset ids turned into words."""
    fields: dict[str, dict[str, Any]] = {}
    definition = latest_version(register.process) if register.process else None
    for schema in (definition.forms.values() if definition else ()):
        for name, prop in schema.get("properties", {}).items():
            if prop.get("enum") and name not in fields:
                fields[name] = prop
    asset_names: dict[int, str] = {}
    if any(column == "asset_ids" for _label, column in register.columns):
        ids = {i for _contract, row in rows for i in row.asset_ids or ()}
        if ids:
            asset_names = dict(db.session.execute(sa.select(Asset.id, Asset.name).where(Asset.id.in_(ids))).all())

    def cell(row: Any, column: str | Callable[[Any], Any]) -> Any:
        value = column(row) if callable(column) else getattr(row, column)
        if column == "asset_ids":
            return "、".join(asset_names.get(i, str(i)) for i in value or ())
        if not isinstance(value, str) or callable(column):
            return value
        if column == "status" and value in presenters.OUTCOME_LABELS:
            return presenters.outcome_label(value)
        if column in fields:
            return formschema.display_value(fields[column], value)
        return value

    return cell
