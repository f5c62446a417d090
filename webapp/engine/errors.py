"""What the engine refuses, as exceptions the errors blueprint turns into pages and JSON."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l


class EngineError(Exception):
    http_status = 400
    code = "bad_request"

    def __init__(self, message: Any = None):
        super().__init__(message)
        self.message = message if message is not None else _l("The request could not be processed.")

    def __str__(self) -> str:
        return str(self.message)


class NotFound(EngineError):
    http_status = 404
    code = "not_found"

    def __init__(self, message: Any = None):
        super().__init__(message or _l("Not found, or you do not have access to it."))


class NotAllowed(EngineError):
    http_status = 403
    code = "forbidden"


class RuleViolation(EngineError):
    """A provision the engine enforces: four eyes, segregation of duties."""

    http_status = 403
    code = "rule_violation"


class TaskAlreadyDone(EngineError):
    """Someone else completed (or the flow cancelled) the task first."""

    http_status = 409
    code = "conflict"

    def __init__(self, task: Any):
        self.task = task
        who = task.completed_by.display_name if task.completed_by else None
        if task.status == "completed" and who:
            message = _l("This task was already completed by %(who)s.", who=who)
        else:
            message = _l("This task is no longer open.")
        super().__init__(message)


class ConcurrentUpdate(EngineError):
    """Another action on the same request committed first; the caller re-reads and reports."""

    http_status = 409
    code = "conflict"

    def __init__(self, task_id: int | None = None):
        self.task_id = task_id
        super().__init__(_l("Someone else changed this request at the same moment. Nothing was saved."))


class VersionConflict(EngineError):
    """Two people deployed the same flow at the same moment; one must retry."""

    http_status = 409
    code = "conflict"

    def __init__(self) -> None:
        super().__init__(_l("Someone deployed this flow at the same moment. Reload the page and deploy again."))


class ProcessFailed(EngineError):
    """A step of the diagram failed; the whole action was rolled back."""

    http_status = 422
    code = "process_failed"


class DiagramInvalid(EngineError):
    http_status = 400
    code = "diagram_invalid"

    def __init__(self, problems: list[Any]):
        self.problems = problems
        super().__init__(_l("The diagram has %(n)s problem(s).", n=len(problems)))
