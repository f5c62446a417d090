"""Deadlines on the Japanese municipal calendar (DESIGN rule 10).

A ``due`` property is ``<n>bd`` (business days), ``<n>d`` (calendar days) or ``<n>h``
(wall-clock hours, for incidents). Business days skip weekends, national holidays
(``jpholiday``, which follows the Cabinet Office list including substitute holidays), the
city's year-end closure (29 December to 3 January) and extra closed days an administrator
configures. A business-day deadline falls at the end of the office day in Asia/Tokyo.
"""
from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import jpholiday

TOKYO = ZoneInfo("Asia/Tokyo")
OFFICE_DAY_END = time(17, 15)

_DUE = re.compile(r"^\s*(\d{1,3})\s*(bd|d|h)\s*$")


@dataclass(frozen=True)
class Due:
    amount: int
    unit: str  # "bd" | "d" | "h"

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


def parse_due(text: str) -> Due:
    """Parse ``3bd``, ``2d`` or ``4h``; anything else is a ValueError naming the forms allowed."""
    match = _DUE.match(text or "")
    if not match:
        raise ValueError(f"due must look like 3bd (business days), 2d (days) or 4h (hours), not {text!r}")
    amount, unit = int(match.group(1)), match.group(2)
    if amount == 0:
        raise ValueError("due must be at least 1")
    return Due(amount, unit)


def is_year_end_closure(day: date) -> bool:
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def is_business_day(day: date, extra_closed: Collection[date] = ()) -> bool:
    return not (
        day.weekday() >= 5
        or jpholiday.is_holiday(day)
        or is_year_end_closure(day)
        or day in extra_closed
    )


def add_business_days(start: date, days: int, extra_closed: Collection[date] = ()) -> date:
    """The business day ``days`` business days after ``start`` (start itself never counts)."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_business_day(current, extra_closed):
            remaining -= 1
    return current


def due_at(due: Due | str, start: datetime, extra_closed: Collection[date] = ()) -> datetime:
    """When something that became ready at ``start`` (aware) is due, in UTC."""
    if isinstance(due, str):
        due = parse_due(due)
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if due.unit == "h":
        return (start + timedelta(hours=due.amount)).astimezone(timezone.utc)
    local = start.astimezone(TOKYO)
    if due.unit == "d":
        day = local.date() + timedelta(days=due.amount)
    else:
        day = add_business_days(local.date(), due.amount, extra_closed)
    return datetime.combine(day, OFFICE_DAY_END, TOKYO).astimezone(timezone.utc)


def to_tokyo(moment: datetime) -> datetime:
    return moment.astimezone(TOKYO)


def parse_local(value: str | datetime) -> datetime:
    """A date and time as people in Japan write it (forms' ``local-datetime``, timer values) as aware UTC.

    ISO 8601 text (``T`` or a space between date and time) or a datetime; without an offset
    it is Japan time, never the server's; with one, the offset wins.

    :raise ValueError: not ISO 8601 text or a datetime
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value.strip())
    else:
        raise ValueError(f"{value!r} is not a date and time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TOKYO)
    return moment.astimezone(timezone.utc)
