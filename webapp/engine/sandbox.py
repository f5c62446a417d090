"""Everything a diagram asks us to evaluate runs here, and nowhere else (DESIGN rule 6).

SpiffWorkflow evaluates conditions, timer expressions and service parameters with plain
``eval`` and scripts with ``exec``; RestrictedPython's ``safe_globals`` alone is escapable
(notes/spiffworkflow-3.2.md §4). So expressions go through :mod:`.expressions` (an AST
interpreter over a whitelist) and scripts through :mod:`.scripts` (RestrictedPython with
time and memory limits), both bounded by :mod:`.limits`. This module is the one name the
rest of the engine uses.
"""
from .expressions import check_expression, evaluate, parse_expression
from .limits import (
    MAX_DATA_BYTES,
    MAX_EXPRESSION_CHARS,
    MAX_EXPRESSION_DEPTH,
    MAX_SCRIPT_CHARS,
    MAX_SEQUENCE,
    SAFE_FUNCTIONS,
    SandboxError,
    footprint,
)
from .scripts import check_script, run_script

__all__ = [
    "MAX_DATA_BYTES", "MAX_EXPRESSION_CHARS", "MAX_EXPRESSION_DEPTH", "MAX_SCRIPT_CHARS", "MAX_SEQUENCE",
    "SAFE_FUNCTIONS", "SandboxError", "check_expression", "check_script", "evaluate", "footprint",
    "parse_expression", "run_script",
]
