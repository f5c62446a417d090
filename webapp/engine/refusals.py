"""RestrictedPython's refusals of a script, in words a person can translate.

RestrictedPython reports what it refuses as English text (``Line n: info``). Its wording is
matched here (RestrictedPython 9.0) and turned into lazy translations, rendered in the
reader's language when shown; a refusal not listed is shown as RestrictedPython wrote it.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

# A name RestrictedPython refuses: a variable or attribute starting with "_" or ending with "__roles__".
_BAD_NAME = re.compile(r'"(?P<name>.*)" is an invalid (?P<kind>variable|attribute) name because it '
                       r'(?P<rule>starts with "_"|ends with "__roles__")\.?')
_BAD_NAMES: dict[tuple[str, str], Callable[[str], Any]] = {
    ("variable", 'starts with "_"'):
        lambda name: _l('"%(name)s" is an invalid variable name because it starts with "_".', name=name),
    ("variable", 'ends with "__roles__"'):
        lambda name: _l('"%(name)s" is an invalid variable name because it ends with "__roles__".', name=name),
    ("attribute", 'starts with "_"'):
        lambda name: _l('"%(name)s" is an invalid attribute name because it starts with "_".', name=name),
    ("attribute", 'ends with "__roles__"'):
        lambda name: _l('"%(name)s" is an invalid attribute name because it ends with "__roles__".', name=name),
}
_RESTRICTED_PYTHON: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Any]]] = [
    (_BAD_NAME, lambda m: _BAD_NAMES[m["kind"], m["rule"]](m["name"])),
    (re.compile(r'"(.*)" is a reserved name\.?'),
     lambda m: _l('"%(name)s" is a reserved name.', name=m[1])),
    (re.compile(r'"(.*)" is a restricted name, that is forbidden to access in RestrictedPython\.?'),
     lambda m: _l('"%(name)s" is a restricted name that scripts may not use.', name=m[1])),
    (re.compile(r"(\w+) statements are not allowed\.?"),
     lambda m: _l("%(statement)s statements are not allowed in scripts.", statement=m[1])),
    (re.compile(r"Exec calls are not allowed\.?"), lambda m: _l("Calls to exec are not allowed in scripts.")),
    (re.compile(r"Eval calls are not allowed\.?"), lambda m: _l("Calls to eval are not allowed in scripts.")),
    (re.compile(r"Unpacking in comprehensions is not allowed\.?"),
     lambda m: _l("Unpacking in comprehensions is not allowed.")),
    (re.compile(r"Augmented assignment of attributes is not allowed\.?"),
     lambda m: _l("Augmented assignment of attributes is not allowed.")),
    (re.compile(r"Augmented assignment of object items and slices is not allowed\.?"),
     lambda m: _l("Augmented assignment of object items and slices is not allowed.")),
]
# How RestrictedPython reports a script that does not parse (``syntax_error_template``).
_SYNTAX_ERROR = re.compile(r"Line (?P<line>\S+): \w+: (?P<detail>.*) at statement: (?P<statement>.*)", re.DOTALL)


def translatable(info: Any) -> Any:
    """A refusal found while compiling a script, as a lazy translation where we know its wording."""
    if not isinstance(info, str):
        return info  # ours, already lazy
    for pattern, message in _RESTRICTED_PYTHON:
        match = pattern.fullmatch(info)
        if match:
            return message(match)
    return info


def problems(errors: Sequence[Any]) -> Any:
    """Every refusal of a script, one after another, rendered in the reader's language when shown."""
    found: list[Any] = []
    for error in errors:
        syntax = _SYNTAX_ERROR.fullmatch(error) if isinstance(error, str) else None
        if syntax is None:
            found.append(error)
        elif syntax["statement"] == "None":
            found.append(_l("Line %(line)s: %(problem)s", line=syntax["line"],
                            problem=_l("Syntax error: %(detail)s", detail=syntax["detail"])))
        else:
            found.append(_l("Line %(line)s: %(problem)s", line=syntax["line"],
                            problem=_l("Syntax error: %(detail)s (at %(statement)s)", detail=syntax["detail"],
                                       statement=syntax["statement"])))
    if len(found) == 1:
        return found[0]
    return LazyString(lambda: " ".join(str(p) for p in found))
