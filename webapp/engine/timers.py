"""Timers that fire by *our* clock, and only when the worker says so.

SpiffWorkflow's timer definitions compare with the machine's real time inside every
``do_engine_steps``, so a timer could fire in the middle of someone's approval, and tests
would have to sleep. Ours compute their fire time from the action's clock and fire only
when :func:`webapp.engine.run.fire_due_timers` marks them, which the worker does for
instances whose indexed ``next_timer_at`` is due (DESIGN rule 4).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.spiff.parser import SpiffBpmnParser
from SpiffWorkflow.spiff.parser.event_parsers import (
    SpiffBoundaryEventParser,
    SpiffIntermediateCatchEventParser,
    SpiffStartEventParser,
)
from SpiffWorkflow.spiff.parser.process import full_tag

from .calendar import parse_local


def _engine_now(my_task: Any) -> datetime:
    return my_task.workflow.script_engine.environment.now


def fire_time(value: Any) -> datetime:
    """The moment a timeDate value names, in UTC (see :func:`calendar.parse_local`). Raises ValueError.

    Unlike a form field, a diagram expression may also yield a plain date: it fires at the
    start of that day in Japan.
    """
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time())
    return parse_local(value)


def duration(value: Any, start: datetime) -> timedelta:
    """How long an ISO 8601 duration (``PT4H``, ``P3D``) lasts from ``start``. Raises ValueError."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration")
    try:
        parsed = TimerEventDefinition.parse_iso_duration(value.strip())
    except Exception as err:  # SpiffWorkflow raises a bare Exception("Invalid duration")
        raise ValueError(f"{value!r} is not an ISO 8601 duration such as PT4H") from err
    return TimerEventDefinition.get_timedelta_from_start(parsed, start)


def _unusable(my_task: Any, expression: str, err: Exception) -> WorkflowTaskException:
    """A timer whose value is not a time: a readable failure of the step, not a server error."""
    return WorkflowTaskException(f"the timer {expression!r} cannot be set: {err}", task=my_task)


class ClockTimeDate(TimeDateEventDefinition):
    def has_fired(self, my_task: Any) -> bool:
        if my_task._get_internal_data("event_value") is None:
            value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            try:
                moment = fire_time(value)
            except (ValueError, OverflowError) as err:
                raise _unusable(my_task, self.expression, err) from err
            my_task._set_internal_data(event_value=moment.isoformat())
        return my_task._get_internal_data("event_fired", False)


class ClockDuration(DurationTimerEventDefinition):
    def has_fired(self, my_task: Any) -> bool:
        if my_task._get_internal_data("event_value") is None:
            value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            start = _engine_now(my_task)
            try:
                moment = start + duration(value, start)
            except (ValueError, OverflowError) as err:
                raise _unusable(my_task, self.expression, err) from err
            my_task._set_internal_data(event_value=moment.astimezone(timezone.utc).isoformat())
        return my_task._get_internal_data("event_fired", False)


CLOCK_TIMERS = {TimeDateEventDefinition: ClockTimeDate, DurationTimerEventDefinition: ClockDuration}


class _ClockTimerParsing:
    def parse_timer_event(self, event: Any) -> Any:
        definition = super().parse_timer_event(event)  # type: ignore[misc]
        replacement = CLOCK_TIMERS.get(type(definition))
        if replacement is None:
            return definition
        return replacement(definition.name, definition.expression, description=definition.description)


class _Start(_ClockTimerParsing, SpiffStartEventParser):
    pass


class _Boundary(_ClockTimerParsing, SpiffBoundaryEventParser):
    pass


class _IntermediateCatch(_ClockTimerParsing, SpiffIntermediateCatchEventParser):
    pass


class ShodakuParser(SpiffBpmnParser):
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("startEvent"): (_Start, SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[full_tag("startEvent")][1]),
        full_tag("boundaryEvent"): (_Boundary, SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[full_tag("boundaryEvent")][1]),
        full_tag("intermediateCatchEvent"): (
            _IntermediateCatch, SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[full_tag("intermediateCatchEvent")][1]),
    }


UNSUPPORTED = (CycleTimerEventDefinition,)
