"""Deadlines on the Japanese municipal calendar (DESIGN rule 10): business days skip weekends,
national holidays (substitute holidays too), the year-end closure and extra closed days, and land
at 17:15 in Tokyo, stored in UTC."""
from __future__ import annotations

from datetime import date, datetime, timezone

import jpholiday
import pytest

from webapp.engine.calendar import TOKYO, Due, add_business_days, due_at, is_business_day, parse_due


def tokyo(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


def end_of_office_day(year: int, month: int, day: int) -> datetime:
    return tokyo(year, month, day, 17, 15)


def test_golden_week_is_skipped():
    # Friday 30 April 2027; 3-5 May are holidays after the weekend: Thursday 6, Friday 7, Monday 10 May.
    assert due_at("3bd", tokyo(2027, 4, 30)) == end_of_office_day(2027, 5, 10)


def test_the_year_end_closure_is_skipped():
    # Monday 28 December 2026; the city is closed 29 December to 3 January: 4, 5, 6 January 2027.
    assert due_at("3bd", tokyo(2026, 12, 28)) == end_of_office_day(2027, 1, 6)
    assert not is_business_day(date(2026, 12, 29)) and not is_business_day(date(2027, 1, 3))
    assert is_business_day(date(2027, 1, 4))


@pytest.mark.parametrize(("created", "substitute", "due"), [
    # Vernal Equinox Day falls on Sunday 21 March 2027: Monday 22 March is 振替休日.
    (date(2027, 3, 19), date(2027, 3, 22), date(2027, 3, 23)),
    # Constitution Memorial Day falls on Sunday 3 May 2026: Wednesday 6 May is 振替休日.
    (date(2026, 5, 1), date(2026, 5, 6), date(2026, 5, 7)),
])
def test_a_substitute_holiday_is_skipped(created, substitute, due):
    assert jpholiday.is_holiday_name(substitute).endswith("振替休日")
    assert substitute.weekday() < 5  # a weekday: only the holiday list closes it
    assert not is_business_day(substitute)
    assert due_at("1bd", tokyo(created.year, created.month, created.day)) == \
        end_of_office_day(due.year, due.month, due.day)


def test_a_friday_before_a_monday_holiday_is_due_on_tuesday():
    # Friday 9 October 2026; Monday 12 October is Sports Day.
    assert due_at("1bd", tokyo(2026, 10, 9)) == end_of_office_day(2026, 10, 13)


def test_hours_are_wall_clock_across_midnight_and_holidays():
    assert due_at("4h", tokyo(2026, 12, 2, 22, 0)) == tokyo(2026, 12, 3, 2, 0)
    # New Year's Eve 22:00 + 4h: 02:00 on New Year's Day, closure or not.
    assert due_at("4h", tokyo(2026, 12, 31, 22, 0)) == tokyo(2027, 1, 1, 2, 0)


def test_calendar_days_count_weekends():
    # Friday 4 December 2026 + 2 days: Sunday 6 December, end of the office day.
    assert due_at("2d", tokyo(2026, 12, 4)) == end_of_office_day(2026, 12, 6)


def test_extra_closed_days_are_skipped():
    # Wednesday 2 December 2026 with Thursday 3 December closed: Friday 4, Monday 7, Tuesday 8.
    assert due_at("3bd", tokyo(2026, 12, 2), extra_closed={date(2026, 12, 3)}) == end_of_office_day(2026, 12, 8)
    assert due_at("3bd", tokyo(2026, 12, 2)) == end_of_office_day(2026, 12, 7)
    assert add_business_days(date(2026, 12, 2), 1, [date(2026, 12, 3), date(2026, 12, 4)]) == date(2026, 12, 7)


def test_deadlines_are_returned_in_utc_and_counted_from_the_tokyo_date():
    due = due_at("3bd", tokyo(2026, 12, 2))
    assert due.utcoffset().total_seconds() == 0
    assert due.isoformat() == "2026-12-07T08:15:00+00:00"
    # 20:00 UTC on Tuesday 1 December is already Wednesday 2 December in Tokyo.
    assert due_at("3bd", datetime(2026, 12, 1, 20, 0, tzinfo=timezone.utc)) == due
    # Work arriving after hours still counts from the next business day.
    assert due_at("1bd", tokyo(2026, 12, 2, 23, 30)) == end_of_office_day(2026, 12, 3)


def test_a_naive_start_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at("3bd", datetime(2026, 12, 2, 10, 0))


def test_parse_due_reads_the_three_forms():
    assert parse_due("3bd") == Due(3, "bd")
    assert parse_due(" 2d ") == Due(2, "d")
    assert parse_due("4h") == Due(4, "h")
    assert str(parse_due("10bd")) == "10bd"


@pytest.mark.parametrize("text", ["0bd", "3x", "bd", "-1h", "", "1000bd", "3 days", "1.5h"])
def test_parse_due_refuses_anything_else(text):
    with pytest.raises(ValueError, match="at least 1|3bd \\(business days\\)"):
        parse_due(text)
