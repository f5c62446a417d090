"""All models, imported here so Alembic and the app see one metadata."""
from .audit import AuditChain, AuditEvent
from .contracts import Asset, Contract
from .files import Attachment
from .identity import ApiToken, Organization, RoleGrant, Substitute, User
from .outbox import JobRun, OutboxMessage, WorkerBeat
from .registers import CopyRecord
from .workflow import (
    Decision,
    DocumentSequence,
    HumanTask,
    ProcessDefinition,
    ProcessInstance,
    TaskCandidate,
)

def _discover() -> None:
    """Import every model module (flows add their registers as new modules here)."""
    import importlib
    import pkgutil

    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_") and module.name != "types":
            importlib.import_module(f"{__name__}.{module.name}")


_discover()

__all__ = [
    "ApiToken", "Asset", "Attachment", "AuditChain", "AuditEvent", "Contract", "CopyRecord", "Decision",
    "DocumentSequence", "HumanTask", "JobRun", "Organization", "OutboxMessage", "ProcessDefinition",
    "ProcessInstance", "RoleGrant", "Substitute", "TaskCandidate", "User", "WorkerBeat",
]
