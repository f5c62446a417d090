"""Timers that fire by *our* clock, and only when the worker says so.

SpiffWorkflow's timer definitions compare with the machine's real time inside every
``do_engine_steps``, so a timer could fire in the middle of someone's approval, and tests
would have to sleep. Ours compute their fire time from the action's clock and fire only
when :func:`webapp.engine.run.fire_due_timers` marks them, which the worker does for
instances whose indexed ``next_timer_at`` is due (DESIGN rule 4).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

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

from .calendar import TOKYO


def _engine_now(my_task: Any) -> datetime:
    return my_task.workflow.script_engine.environment.now


def _as_utc_iso(value: Any) -> str:
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TOKYO)  # a date without offset is Japanese local time
    return moment.astimezone(timezone.utc).isoformat()


class ClockTimeDate(TimeDateEventDefinition):
    def has_fired(self, my_task: Any) -> bool:
        if my_task._get_internal_data("event_value") is None:
            value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            my_task._set_internal_data(event_value=_as_utc_iso(value))
        return my_task._get_internal_data("event_fired", False)


class ClockDuration(DurationTimerEventDefinition):
    def has_fired(self, my_task: Any) -> bool:
        if my_task._get_internal_data("event_value") is None:
            expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            start = _engine_now(my_task)
            delta = TimerEventDefinition.get_timedelta_from_start(TimerEventDefinition.parse_iso_duration(expression),
                                                                  start)
            my_task._set_internal_data(event_value=(start + delta).astimezone(timezone.utc).isoformat())
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
