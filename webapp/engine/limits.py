"""Limits shared by the expression interpreter and the script runner: sizes, operators,
the functions a diagram may call, and :class:`SandboxError`.

The time limit only interrupts a script's own lines; a single native operation (``str()``,
``==``, hashing, ``join``, ``%``) runs to completion however long it takes. So everything
that makes native code walk or build a value goes through a size check first, measured
with :func:`footprint`, which counts a shared part each time it appears: ``[s] * 50_000``
is a short list, but its text is 50,000 copies of ``s``.
"""
from __future__ import annotations

import ast
import operator
import sys
from collections.abc import Callable, ItemsView, KeysView, Mapping, ValuesView
from datetime import date, datetime
from typing import Any

from flask_babel import lazy_gettext as _l

MAX_EXPRESSION_CHARS = 2000
MAX_EXPRESSION_DEPTH = 100  # the interpreter recurses once per level of the syntax tree
MAX_SCRIPT_CHARS = 20_000
MAX_SEQUENCE = 100_000  # elements plus characters in any value an expression or script builds
MAX_INT_BITS = 4096
MAX_FORMAT_NUMBER = 100  # widths and precisions in f-string format specs; digits for round()
MAX_DATA_BYTES = 1_000_000  # serialized task data after a script
MAX_SCRIPT_MEMORY = 256 * 2**20  # growth of the process while a script runs


class SandboxError(ValueError):
    """A diagram expression or script tried something the sandbox refuses.

    Its message is a lazy translation: ``str()`` renders it in the current locale when it is
    shown, and :func:`webapp.engine.run.error_message` keeps it lazy."""


# --- sizes -------------------------------------------------------------------------------

_CONTAINERS = (dict, list, tuple, set, frozenset, KeysView, ValuesView, ItemsView)
_FLAT = frozenset({str, bytes, int, float, bool, type(None), date, datetime, range})


def footprint(value: Any, limit: int = MAX_SEQUENCE, known: Mapping[int, int] | None = None) -> int:
    """Elements plus characters in ``value``, a shared part counted each time it appears, as
    ``str()``, ``==``, hashing and JSON would walk it. Counting stops once past ``limit``, so
    the cost is bounded whatever the value; ``known`` gives sizes already measured, by id."""
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if known is not None and id(item) in known:
            total += known[id(item)]
        elif isinstance(item, (str, bytes)):
            total += len(item)
        elif isinstance(item, _CONTAINERS):
            total += len(item)
            if total <= limit:
                stack.extend(item.items() if isinstance(item, dict) else item)
        elif isinstance(item, int):
            total += 1 + item.bit_length() // 32
        else:
            total += 1
    return total


def _number_too_large() -> SandboxError:
    return SandboxError(_l("Number too large."))


def _too_large() -> SandboxError:
    return SandboxError(_l("Value too large: more than %(limit)s elements and characters.", limit=MAX_SEQUENCE))


def bounded(value: Any) -> Any:
    """``value``, unless it is too large to write out, compare or hash in one native call."""
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise _number_too_large()
    if footprint(value) > MAX_SEQUENCE:
        raise _too_large()
    return value


def _sink(value: Any) -> Any:
    """An operand of ``==``, ``<``, ``in`` or a hash: flat values cost linear time, containers are bounded."""
    return value if type(value) in _FLAT else bounded(value)


def _member(container: Any) -> Any:
    """The right side of ``in``: a dict or set only hashes the left side; anything else is walked."""
    return container if isinstance(container, (dict, set, frozenset, KeysView)) else _sink(container)


def _materialized(values: Any) -> list[Any] | tuple[Any, ...]:
    """``values`` as a bounded sequence, for built-ins that compare or hash every element natively."""
    items = values if isinstance(values, (list, tuple)) else list(values)
    bounded(items)
    return items


# --- operators ---------------------------------------------------------------------------

_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
}
_SCRIPT_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    **_BINARY, ast.BitOr: operator.or_, ast.BitAnd: operator.and_, ast.BitXor: operator.xor,
    ast.RShift: operator.rshift,
}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}
_UNARY: dict[type, Callable[[Any], Any]] = {ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos}
_CONSTANT_TYPES = (str, int, float, bool, type(None))
_SUBSCRIPTABLE = (dict, list, tuple, str)
_SEQUENCES = (str, bytes, list, tuple)


def _multiply(left: Any, right: Any, size: Callable[[Any], int]) -> Any:
    """``*`` with the size of a repeated sequence checked *before* it is built."""
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, _SEQUENCES) and isinstance(count, int) and count > 1:
            if size(seq) * count > MAX_SEQUENCE:
                raise SandboxError(_l("Repeating a sequence %(count)s times would build a value of more than "
                                      "%(limit)s elements and characters.", count=count, limit=MAX_SEQUENCE))
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise _number_too_large()
    return left * right


def _binary(op: type, left: Any, right: Any, size: Callable[[Any], int] = footprint) -> Any:
    """A binary operator, refusing results too large to build (checked before building them)."""
    if op is ast.Mult:
        return _multiply(left, right, size)
    if op is ast.Mod and isinstance(left, (str, bytes)):
        raise SandboxError(_l("Formatting text with %(operator)s is not allowed; use an f-string.", operator="%"))
    if op is ast.Add and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        if size(left) + size(right) > MAX_SEQUENCE:
            raise _too_large()
        return left + right
    result = _SCRIPT_BINARY[op](left, right)
    if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
        raise _number_too_large()
    return result


# --- functions ---------------------------------------------------------------------------

def _bounded_range(*args: int) -> range:
    r = range(*args)
    try:
        length = len(r)
    except OverflowError:
        length = sys.maxsize
    if length > MAX_SEQUENCE:
        raise SandboxError(_l("A range of %(length)s elements exceeds the limit of %(limit)s.", length=length,
                                  limit=MAX_SEQUENCE))
    return r


def _text(value: Any = "") -> str:
    """``str()``, for a value small enough to write out."""
    return str(bounded(value))


def _round(number: Any, ndigits: int | None = None) -> Any:
    """``round()``; ``round(5, -10**9)`` would compute ten to the billionth power natively."""
    if ndigits is not None and isinstance(ndigits, int) and abs(ndigits) > MAX_FORMAT_NUMBER:
        raise SandboxError(_l("The function round() takes at most %(limit)s digits.", limit=MAX_FORMAT_NUMBER))
    return round(number, ndigits)


def _sum(values: Any, start: int | float = 0) -> Any:
    """``sum()`` of numbers; adding lists this way would copy them over and over."""
    if not isinstance(start, (int, float)):
        raise SandboxError(_l("The function sum() adds numbers only."))
    result = sum(values, start)
    if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
        raise _number_too_large()
    return result


def _sorted(values: Any, *, key: Any = None, reverse: bool = False) -> list[Any]:
    return sorted(_materialized(values), key=key, reverse=reverse)


def _extremum(pick: Callable[..., Any]) -> Callable[..., Any]:
    def choose(*args: Any, **kwargs: Any) -> Any:
        return pick(_materialized(args[0] if len(args) == 1 else args), **kwargs)

    choose.__name__ = pick.__name__
    return choose


SAFE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    **{f.__name__: f for f in (len, abs, int, float, bool, any, all)},
    "round": _round, "str": _text, "sum": _sum, "sorted": _sorted, "min": _extremum(min), "max": _extremum(max),
    "range": _bounded_range,
}
