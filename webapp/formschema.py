"""JSON Schema forms: options from the registers, coercion, validation, Japanese messages.

A form is a JSON Schema (``type: object``) plus UI hints under ``x-`` keys:

* ``x-title-en`` / ``x-description-en``: English labels (``title``/``description`` are Japanese);
* ``x-widget``: ``textarea``, ``radio``, ``checkboxes``, ``attachments``, ``date``;
* ``x-enum-labels`` / ``x-enum-labels-en``: labels for ``enum`` values;
* ``x-source``: the options come from a register, resolved per contract (``assets``,
  ``handlers``); a value outside the contract's options is refused like any enum mismatch,
  which is how another contract's ids are kept out;
* ``x-rules``: cross-field checks: ``{"rule": "date_order", "start": a, "end": b}``,
  ``{"rule": "not_past", "field": f}``, ``not_future`` and ``within_contract`` (no later than
  the contract's end);
* ``x-show-if``: ``{"field": [values]}``, a display hint mirrored by an ``if/then`` in the schema.

Only fields the schema declares are kept: a form can never write other workflow data.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from jsonschema import Draft202012Validator, FormatChecker

from . import clock
from .engine.calendar import parse_local, to_tokyo
from .models import Contract, User

Options = list[tuple[Any, str]]
SOURCES: dict[str, Callable[["FormContext"], Options]] = {}


def source(name: str) -> Callable[[Callable[["FormContext"], Options]], Callable[["FormContext"], Options]]:
    """Register a provider of options for ``x-source: name``."""
    def register(fn: Callable[["FormContext"], Options]) -> Callable[["FormContext"], Options]:
        SOURCES[name] = fn
        return fn
    return register


@dataclass
class FormContext:
    contract: Contract
    user: User
    instance_id: int | None = None
    _cache: dict[str, Options] = field(default_factory=dict)

    def options(self, name: str) -> Options:
        if name not in self._cache:
            provider = SOURCES.get(name)
            self._cache[name] = provider(self) if provider else []
        return self._cache[name]


class FormInvalid(ValueError):
    """Field-level messages; ``""`` holds messages about the form as a whole."""

    http_status = 400

    def __init__(self, errors: dict[str, list[Any]]):
        super().__init__(f"form invalid: {', '.join(sorted(errors)) or '-'}")
        self.errors = errors

    def as_dict(self) -> dict[str, list[str]]:
        return {k: [str(m) for m in v] for k, v in self.errors.items()}


def _corporate_number_ok(value: object) -> bool:
    """法人番号: 13 digits, the first a check digit over the other twelve (National Tax Agency rule)."""
    if not isinstance(value, str) or len(value) != 13 or not value.isdigit():
        return False
    digits = [int(c) for c in value[1:]]
    total = sum(d * (1 if i % 2 == 0 else 2) for i, d in enumerate(reversed(digits)))
    return int(value[0]) == 9 - (total % 9)


FORMAT_CHECKER = FormatChecker()
FORMAT_CHECKER.checks("corporate-number")(_corporate_number_ok)


def _is_local_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


FORMAT_CHECKER.checks("local-datetime")(_is_local_datetime)


def resolve(schema: Mapping[str, Any], ctx: FormContext) -> dict[str, Any]:
    """``schema`` with every ``x-source`` turned into an ``enum`` with labels. The fields it
    changes are new dicts; the rest is ``schema``'s own (a deployed version's: read, never
    written), not a deep copy per request."""
    resolved = dict(schema)
    if "properties" not in resolved:
        return resolved
    properties = resolved["properties"] = dict(resolved["properties"])
    for key, prop in properties.items():
        name = prop.get("x-source")
        if not name:
            continue
        options = ctx.options(name)
        values = [v for v, _ in options]
        prop = properties[key] = {**prop, "x-options": options}
        if prop.get("type") == "array":
            prop["items"] = {**prop["items"], "enum": values}
        else:
            prop["enum"] = values
    return resolved


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def _coerce_scalar(kind: str | None, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if kind == "integer":
            return int(text)
        if kind == "number":
            return float(text)
    except ValueError:
        return text  # left as text: the type check reports it in words
    if kind == "boolean":
        return text.lower() in ("1", "true", "on", "yes")
    return value.replace("\r\n", "\n")


def coerce(schema: Mapping[str, Any], raw: Mapping[str, Any], *, from_html: bool) -> dict[str, Any]:
    """Keep declared fields only; from an HTML form, turn text into the declared types."""
    data: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        kind = prop.get("type")
        if from_html and prop.get("readOnly"):
            continue  # set by the system (e.g. a reopened incident's link), never by a browser
        if from_html:
            getlist = getattr(raw, "getlist", None)
            if kind == "array":
                values = getlist(name) if getlist else raw.get(name, [])
                items = [_coerce_scalar(prop.get("items", {}).get("type"), v) for v in values if not _blank(v)]
                if items or name in raw:
                    data[name] = items
                continue
            if kind == "boolean":
                data[name] = _coerce_scalar("boolean", raw.get(name, "false"))
                continue
            value = raw.get(name)
            if not _blank(value):
                data[name] = _coerce_scalar(kind, value)
        elif name in raw and raw[name] is not None:
            data[name] = raw[name]
    return data


def _label(prop: Mapping[str, Any], name: str) -> str:
    if str(get_locale() or "ja") == "en" and prop.get("x-title-en"):
        return prop["x-title-en"]
    return prop.get("title", name)


_MESSAGES: dict[str, Callable[[Any, Any], Any]] = {
    "required": lambda v, i: _l("This field is required."),
    "enum": lambda v, i: _l("Choose one of the options offered."),
    "const": lambda v, i: _l("Tick the box to confirm.") if v is True else _l("Choose one of the options offered."),
    "minLength": lambda v, i: _l("This field is required.") if v == 1 else _l("Enter at least %(n)s characters.", n=v),
    "maxLength": lambda v, i: _l("Enter at most %(n)s characters.", n=v),
    "minimum": lambda v, i: _l("Enter %(n)s or more.", n=v),
    "maximum": lambda v, i: _l("Enter %(n)s or less.", n=v),
    "exclusiveMinimum": lambda v, i: _l("Enter a number greater than %(n)s.", n=v),
    "minItems": lambda v, i: _l("Choose at least %(n)s.", n=v),
    "maxItems": lambda v, i: _l("Choose at most %(n)s.", n=v),
    "uniqueItems": lambda v, i: _l("Each entry may appear only once."),
    "pattern": lambda v, i: _l("The format is not correct."),
}
_TYPE_MESSAGES = {
    "integer": _l("Enter a whole number."), "number": _l("Enter a number."), "string": _l("Enter text."),
    "array": _l("Choose from the list."), "boolean": _l("Tick or untick the box."), "object": _l("Invalid value."),
}
_FORMAT_MESSAGES = {
    "date": _l("Enter a date as YYYY-MM-DD."),
    "local-datetime": _l("Enter a date and time as YYYY-MM-DD HH:MM."),
    "corporate-number": _l("Enter the 13-digit corporate number (法人番号); its check digit does not match."),
    "email": _l("Enter an e-mail address."),
}


def validate(schema: Mapping[str, Any], raw: Mapping[str, Any], ctx: FormContext, *,
             from_html: bool = False) -> dict[str, Any]:
    """Return the clean data, or raise :class:`FormInvalid` with one message list per field."""
    resolved = resolve(schema, ctx)
    data = coerce(resolved, raw, from_html=from_html)
    errors: dict[str, list[Any]] = {}
    validator = Draft202012Validator(resolved, format_checker=FORMAT_CHECKER)
    for error in validator.iter_errors(data):
        if error.validator == "required":
            missing = [p for p in error.validator_value if p not in (error.instance or {})]
            for name in missing:
                errors.setdefault(name, []).append(_MESSAGES["required"](None, None))
            continue
        path = [p for p in error.absolute_path if isinstance(p, str)]
        name = path[0] if path else ""
        if error.validator == "type":
            message = _TYPE_MESSAGES.get(str(error.validator_value), _l("Invalid value."))
        elif error.validator == "format":
            message = _FORMAT_MESSAGES.get(error.validator_value, _l("The format is not correct."))
        elif error.validator in _MESSAGES:
            message = _MESSAGES[error.validator](error.validator_value, error.instance)
        elif error.validator in ("if", "then", "allOf", "anyOf", "oneOf", "not"):
            continue  # reported through the nested error that caused it
        else:
            message = _l("Invalid value.")
        if message not in errors.get(name, []):
            errors.setdefault(name, []).append(message)
    for rule in resolved.get("x-rules", []):
        _apply_rule(rule, data, errors, ctx)
    if errors:
        raise FormInvalid(errors)
    return data


def _as_date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).date() if "T" in value or " " in value else date.fromisoformat(value)
    except ValueError:
        return None


def _apply_rule(rule: Mapping[str, Any], data: Mapping[str, Any], errors: dict[str, list[Any]],
                ctx: FormContext) -> None:
    kind = rule.get("rule")
    if kind == "date_order":
        start, end = data.get(rule["start"]), data.get(rule["end"])
        if isinstance(start, str) and isinstance(end, str) and rule["end"] not in errors:
            if _sortable(end) < _sortable(start):
                errors.setdefault(rule["end"], []).append(_l("The end must not be before the start."))
    elif kind in ("not_past", "not_future"):
        _check_against_now(rule["field"], data, errors, future_allowed=kind == "not_past")
    elif kind == "within_contract":
        value = _as_date(data.get(rule["field"]))
        if value is not None and rule["field"] not in errors and value > ctx.contract.ends_on:
            errors.setdefault(rule["field"], []).append(
                _l("This date is after the contract ends (%(end)s).", end=ctx.contract.ends_on.isoformat()))


_TOO_EARLY = (_l("This date is in the past."), _l("This date and time is in the past."))
_TOO_LATE = (_l("This date is in the future."), _l("This date and time is in the future."))


def _check_against_now(name: str, data: Mapping[str, Any], errors: dict[str, list[Any]], *,
                       future_allowed: bool) -> None:
    """A date is compared with today, a date-time with now (both in Japan time)."""
    raw = data.get(name)
    if name in errors or not isinstance(raw, str):
        return
    now = to_tokyo(clock.now())
    has_time = "T" in raw or " " in raw
    try:
        value: Any = parse_local(raw) if has_time else _as_date(raw)
    except ValueError:
        return
    if value is None:
        return
    reference = now if has_time else now.date()
    wrong = value < reference if future_allowed else value > reference
    if wrong:
        messages = _TOO_EARLY if future_allowed else _TOO_LATE
        errors.setdefault(name, []).append(messages[has_time])


def _sortable(value: str) -> str:
    return value.replace(" ", "T")


def field_labels(schema: Mapping[str, Any]) -> dict[str, str]:
    return {name: _label(prop, name) for name, prop in schema.get("properties", {}).items()}


def choices(prop: Mapping[str, Any]) -> list[tuple[Any, str]]:
    """(value, label) pairs for an enum or register-backed field, in the user's language."""
    if prop.get("x-options") is not None:
        return [tuple(o) for o in prop["x-options"]]
    enum = prop.get("enum") or prop.get("items", {}).get("enum") or []
    labels = prop.get("x-enum-labels-en") if str(get_locale() or "ja") == "en" else prop.get("x-enum-labels")
    if not labels or len(labels) != len(enum):
        labels = [str(v) for v in enum]
    return list(zip(enum, labels))


def display_value(prop: Mapping[str, Any], value: Any) -> str:
    """A stored value as a person reads it: enum labels instead of codes."""
    options = dict((v, label) for v, label in prop.get("x-options", []))
    labels = prop.get("x-enum-labels-en") if str(get_locale() or "ja") == "en" else prop.get("x-enum-labels")
    enum = prop.get("enum") or prop.get("items", {}).get("enum") or []
    if labels and len(labels) == len(enum):
        options.update(zip(enum, labels))

    def one(v: Any) -> str:
        if isinstance(v, bool):
            return "✓" if v else "—"
        return str(options.get(v, v))

    if isinstance(value, list):
        return "、".join(one(v) for v in value)
    return one(value)
