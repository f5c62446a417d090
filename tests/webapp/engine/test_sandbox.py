"""The sandbox (DESIGN rule 6): harmless diagram expressions and scripts behave as in Python;
hostile ones are refused with a message naming the problem, and nothing of them runs."""
from __future__ import annotations

import builtins
from datetime import datetime, timezone

import pytest
from flask_babel import force_locale

from webapp.engine import sandbox, scripts
from webapp.engine.sandbox import SandboxError
from webapp.engine.scripting import diagram_functions

# Wednesday 2 December 2026, 10:00 in Tokyo.
NOW = datetime(2026, 12, 2, 1, 0, tzinfo=timezone.utc)
FUNCTIONS = diagram_functions(NOW)
DATA = {"amount": 2500, "kind": "copy", "risk": "high", "tags": ["a", "b", "c"], "limits": {"copy": 3},
        "note": "  Mixed Case  ", "missing": None, "ratio": 0.5}

pytestmark = pytest.mark.usefixtures("english_messages")  # these tests check the English wording


def run(script: str, time_limit: float = 1.0, **data):
    context = dict(data)
    sandbox.run_script(script, context, FUNCTIONS, time_limit)
    return context


# --- expressions that are fine ------------------------------------------------------------

PYTHON_EXPRESSIONS = [
    'kind == "copy" and amount > 1000',
    'kind == "print" or amount',
    "not missing",
    "not (amount > 10 and ratio < 0.1)",
    "1 < amount <= 2500 < 3000",
    "1 < amount < 2000 < 3000",
    '"high" if risk in ("high", "critical") else "low"',
    "tags[1:]",
    "tags[::-1]",
    "note[2:7]",
    "tags[-1]",
    '{"x": amount, "y": [1, 2]}["y"]',
    '[amount, kind, {"n": 1}]',
    'limits["copy"] + 1',
    'f"Expense {amount} approved for {kind}"',
    "len(tags) * 2",
    "max(amount, 3000)",
    "min(tags)",
    "sorted(tags, )",
    "sum([1, 2, 3.5])",
    "str(amount) + kind",
    "round(ratio * 3.14159, 2)",
    "abs(-amount) // 7 % 5",
    "int('42') + float('1.5')",
    "any([missing, 0, ratio]) and all(tags)",
    "missing is None and kind is not None",
    '"b" in tags and "z" not in tags',
    "amount / 8",
    "-amount + +ratio",
    "[0] * 3 + [1]",
    '"ab" * 3',
]


@pytest.mark.parametrize("expression", PYTHON_EXPRESSIONS)
def test_harmless_expressions_give_the_same_result_as_python(expression):
    expected = eval(expression, {"__builtins__": builtins}, dict(DATA))  # noqa: S307 - the reference
    assert sandbox.evaluate(expression, DATA, FUNCTIONS) == expected
    sandbox.check_expression(expression, FUNCTIONS)  # the deploy lint accepts it too


def test_an_expression_parsed_once_still_reads_each_runs_data_and_a_refusal_is_never_remembered():
    """Expressions are parsed once per process; the parse must not carry one run's data into
    the next, and a refused expression must be refused every time it is asked for."""
    condition = "decision == 'approve' and copies > 1"
    assert sandbox.evaluate(condition, {"decision": "approve", "copies": 2}) is True
    assert sandbox.evaluate(condition, {"decision": "reject", "copies": 2}) is False
    assert sandbox.evaluate(condition, {"decision": "approve", "copies": 1}) is False
    for _ in range(2):
        with pytest.raises(SandboxError):
            sandbox.evaluate("().__class__", {})


def test_and_or_short_circuit_like_python():
    # The right-hand side would fail (unknown name): it must not be evaluated.
    assert sandbox.evaluate("missing and nope", DATA) is None
    assert sandbox.evaluate("kind or nope", DATA) == "copy"
    assert sandbox.evaluate("1 if kind else nope", DATA) == 1


def test_deadline_is_a_diagram_function_not_a_safe_builtin():
    assert "deadline" not in sandbox.SAFE_FUNCTIONS
    assert "deadline" in FUNCTIONS
    # Three business days after Wednesday 2 December 2026: Monday 7 December, 17:15 in Tokyo.
    assert sandbox.evaluate('deadline("3bd")', {}, FUNCTIONS) == "2026-12-07T08:15:00+00:00"
    with pytest.raises(SandboxError, match="Only these functions may be called"):
        sandbox.evaluate('deadline("3bd")', {})
    with pytest.raises(SandboxError, match="Only these functions may be called"):
        sandbox.check_expression('deadline("3bd")', sandbox.SAFE_FUNCTIONS)
    sandbox.check_expression('deadline("3bd")', FUNCTIONS)


def test_an_undefined_name_is_a_name_error_naming_it():
    with pytest.raises(NameError, match="'amout'"):
        sandbox.evaluate("amout > 3", DATA)


# --- hostile expressions --------------------------------------------------------------------

def _system(marker) -> list[str]:
    """Expressions that would create ``marker`` if anything from them ran."""
    walk = "().__class__.__mro__[1].__subclasses__()"
    return [
        f"__import__('os').system('touch {marker}')",
        f"[c for c in {walk} if c.__name__ == '_wrap_close'][0].__init__.__globals__['system']('touch {marker}')",
        f"getattr(getattr((), '__class__'), 'mro')()[1]('touch {marker}')",
        f"eval(\"__import__('os').system('touch {marker}')\")",
        f"exec(\"__import__('os').system('touch {marker}')\")",
        f"compile(\"__import__('os').system('touch {marker}')\", 'x', 'exec')",
        f"open('{marker}', 'w')",
    ]


def test_code_execution_payloads_in_expressions_are_refused_and_do_not_run(tmp_path):
    marker = tmp_path / "pwned"
    for expression in _system(marker):
        with pytest.raises(SandboxError, match="Only these functions may be called|is not allowed"):
            sandbox.check_expression(expression, FUNCTIONS)
        with pytest.raises(SandboxError, match="Only these functions may be called|is not allowed"):
            sandbox.evaluate(expression, DATA, FUNCTIONS)
    assert not marker.exists()


# (expression, what the message says, whether the deploy lint already refuses it)
HOSTILE_EXPRESSIONS = [
    ("().__class__.__mro__[1].__subclasses__()", "Only these functions may be called", True),
    ("().__class__", r"Attribute access \(a.b\) is not allowed", True),
    ("getattr((), '__class__')", "Only these functions may be called", True),
    ("type(())", "Only these functions may be called", True),
    ("vars()", "Only these functions may be called", True),
    ("globals()", "Only these functions may be called", True),
    ("locals()", "Only these functions may be called", True),
    ("__builtins__", "names may not start with '_'", True),
    ("'{0.__class__}'.format(1)", "Only these functions may be called", True),
    ("'a' * 10**9", "Operator Pow is not allowed", True),
    ("'a' * 999999999", "Repeating a sequence 999999999 times would build a value of more than 100000", False),
    ("[0] * 10**8", "Operator Pow is not allowed", True),
    ("[0] * 100000000", "Repeating a sequence 100000000 times would build a value of more than 100000", False),
    ("2 ** 10 ** 10", "Operator Pow is not allowed", True),
    ("1 << 10**9", "Operator LShift is not allowed", True),
    ("'x'.ljust(10**9)", "Only these functions may be called", True),
    ("range(10**12)", "Operator Pow is not allowed", True),
    ("range(1000000000000)", "range of 1000000000000 elements exceeds the limit", False),
    ("sum(range(1000000000000))", "range of 1000000000000 elements exceeds the limit", False),
    ("[[x for x in range(10000)] for y in range(10000)]", "A list comprehension is not allowed", True),
    ("{x: [y for y in range(10000)] for x in range(10000)}", "A dict comprehension is not allowed", True),
    ("lambda: 0", "A lambda is not allowed", True),
    ("(amount := 0)", r"Assignment \(:=\) is not allowed", True),
    ("'%0999999999d' % 1", "Formatting text with % is not allowed", False),
    ("str(['a' * 50000] * 3)", "Repeating a sequence 3 times would build a value of more than 100000", False),
    ("[[0] * 1000] * 1000", "Repeating a sequence 1000 times would build a value of more than 100000", False),
    ("sorted('a' * 100000)", "Value too large", False),
    ("round(5, -1000000000)", "round\\(\\) takes at most 100 digits", False),
    ("f'{amount!r}'", "Format conversions and format specs are not allowed", False),
    ("f'{amount:>999999999}'", "Format conversions and format specs are not allowed", False),
    ("{**limits}", r"Dictionary unpacking \(\*\*\) is not allowed", False),
    ("len(*tags)", "Keyword and \\* arguments are not allowed", False),
    ("b'x'", "Only text, number, boolean and None constants are allowed", True),
    ("-" * 1500 + "1", "nested more than 100 levels deep", True),
    ("1" + " + 1" * 400, "nested more than 100 levels deep", True),
    ("'a'" + " + 'a'" * 500, "expression is longer than 2000 characters", True),
    ("1\x00", "Syntax error", True),
]


@pytest.mark.parametrize(("expression", "message", "static"), HOSTILE_EXPRESSIONS,
                         ids=[e[:40] for e, _, _ in HOSTILE_EXPRESSIONS])
def test_hostile_expressions_are_refused_with_a_message_naming_the_problem(expression, message, static):
    # The message names the guard that fired, so the expensive work was refused, not attempted.
    with pytest.raises(SandboxError, match=message):
        sandbox.evaluate(expression, DATA, FUNCTIONS)
    if static:  # structural refusals happen at deploy, before anything runs
        with pytest.raises(SandboxError, match=message):
            sandbox.check_expression(expression, FUNCTIONS)


# --- scripts that are fine -----------------------------------------------------------------

def test_scripts_can_still_do_normal_things():
    data = run(
        "total = 0\n"
        "for item in items:\n"
        "    total += item['qty']\n"
        "counts = {}\n"
        "for i, name in enumerate(names):\n"
        "    counts[name] = counts.get(name, 0) + i\n"
        "counts.update({'extra': 1})\n"
        "for key, value in counts.items():\n"
        "    total += value\n"
        "label = note.strip().lower()\n"
        "words = label.split(' ')\n"
        "joined = '-'.join(words)\n"
        "pairs = [a + b for a, b in zip([1, 2], [10, 20])]\n"
        "summary = f'{len(items)} items, total {total}'\n"
        "def double(n):\n"
        "    return n * 2\n"
        "doubled = double(total)\n",
        items=[{"qty": 2}, {"qty": 3}], names=["x", "y", "x"], note="  Copy THIS  ",
    )
    assert data["total"] == 2 + 3 + (0 + 2) + 1 + 1
    assert data["counts"] == {"x": 2, "y": 1, "extra": 1}
    assert (data["label"], data["words"], data["joined"]) == ("copy this", ["copy", "this"], "copy-this")
    assert data["pairs"] == [11, 22]
    assert data["summary"] == "2 items, total 9"
    assert data["doubled"] == 18
    assert "double" not in data  # functions are not task data


def test_a_script_can_use_the_diagram_functions_and_isinstance():
    data = run('due = deadline("3bd")\nis_text = isinstance(due, str)\nis_map = isinstance({}, (list, dict))')
    assert data == {"due": "2026-12-07T08:15:00+00:00", "is_text": True, "is_map": True}


# --- hostile scripts -------------------------------------------------------------------------

def test_code_execution_payloads_in_scripts_are_refused_and_do_not_run(tmp_path):
    marker = tmp_path / "pwned"
    walk = "().__class__.__mro__[1].__subclasses__()"
    payloads = [
        f"import os\nos.system('touch {marker}')",
        f"from os import system\nsystem('touch {marker}')",
        f"x = __import__('os').system('touch {marker}')",
        f"x = [c for c in {walk} if c.__name__ == '_wrap_close'][0].__init__.__globals__['popen']('touch {marker}')",
        "x = getattr(getattr((), '__class__'), '__base__')",
        "x = type(())",
        "x = vars()",
        "x = globals()['__builtins__']",
        "x = locals()",
        f"x = compile(\"open('{marker}', 'w')\", 'x', 'exec')",
        f"eval(\"open('{marker}', 'w')\")",
        f"exec(\"open('{marker}', 'w')\")",
        f"f = open('{marker}', 'w')",
        "x = '{0.__class__}'.format(1)",
    ]
    for script in payloads:
        with pytest.raises((SandboxError, NameError)) as refused:
            sandbox.check_script(script)
            run(script)
        message = str(refused.value)
        assert any(part in message for part in (
            "not allowed", "invalid attribute name", "invalid variable name", "is not defined",
            "not available in scripts",
        )), message
    assert not marker.exists()


HOSTILE_SCRIPTS = [
    ("import os", "Import statements are not allowed in scripts"),
    ("x = ().__class__.__mro__[1].__subclasses__()", '"__class__" is an invalid attribute name'),
    ("x = 'a' * 10**9", "Operator Pow is not allowed in scripts"),
    ("x = 'a' * 999999999", "Repeating a sequence 999999999 times would build a value of more than 100000"),
    ("x = b'a' * 999999999", "Repeating a sequence 999999999 times would build a value of more than 100000"),
    ("x = [0] * 10**8", "Operator Pow is not allowed in scripts"),
    ("x = [0] * 100000000", "Repeating a sequence 100000000 times would build a value of more than 100000"),
    ("x = 2 ** 10 ** 10", "Operator Pow is not allowed in scripts"),
    ("x = 1 << 1000000000", "Operator LShift is not allowed in scripts"),
    ("x = 'x'.ljust(1000000000)", "Attribute 'ljust' of str is not available in scripts"),
    ("x = range(1000000000000)", "range of 1000000000000 elements exceeds the limit"),
    ("x = sum(range(1000000000000))", "range of 1000000000000 elements exceeds the limit"),
    ("x = '%0999999999d' % 1", "Formatting text with % is not allowed"),
    ("x = f'{1:>999999999}'", "F-string widths and precisions may not exceed 100"),
    ("x = round(5, -1000000000)", "round\\(\\) takes at most 100 digits"),
    ("x = sum([[1], [2]], [])", "sum\\(\\) adds numbers only"),
    ("def f(n):\n    return f(n + 1)\nx = f(0)", "script recursed too deeply"),
    ("class A:\n    pass", "Class definitions are not allowed in scripts"),
    ("def f():\n    global y\n    y = 1", "Global and nonlocal statements are not allowed in scripts"),
    ("l = []\nl.append = 1", r"Changing attributes \(a.b = ...\) is not allowed"),
    ("d = {}\nd.x = 1", r"Changing attributes \(a.b = ...\) is not allowed"),
    ("try:\n    x = 1\nexcept ValueError:\n    pass", "Try/except statements are not allowed in scripts"),
    ("x = " + "-" * 5000 + "1", "script is nested too deeply"),
    ("x = 1\n" * 4000, "script is longer than 20000 characters"),
]


@pytest.mark.parametrize(("script", "message"), HOSTILE_SCRIPTS, ids=[s[:40] for s, _ in HOSTILE_SCRIPTS])
def test_hostile_scripts_are_refused_with_a_message_naming_the_problem(script, message):
    # Not "time limit": the named guard refused the work before it ran for seconds.
    with pytest.raises(SandboxError, match=message):
        run(script, time_limit=5)


SHARED_BIG = "s = 'a' * 50000\nl = []\nfor i in range(50000):\n    l.append(s)\n"  # 2.5e9 characters by reference
DEEP = "a = [0]\nb = [0]\nfor i in range(40):\n    a = [a, a]\n    b = [b, b]\n"  # 2**40 elements each
DEEP_TUPLE = "t = (0,)\nfor i in range(40):\n    t = (t, t)\n"


@pytest.mark.parametrize("script", [
    SHARED_BIG + "x = len(str(l))",
    SHARED_BIG + "x = len(''.join(l))",
    SHARED_BIG + "x = f'{l}'",
    SHARED_BIG + "raise ValueError(l)",
    DEEP + "x = a == b",
    DEEP + "x = a in [b]",
    DEEP + "x = sorted([a, b])",
    DEEP_TUPLE + "d = {t: 1}",
    DEEP_TUPLE + "d = {}\nd[t] = 1",
    DEEP_TUPLE + "x = set([t])",
], ids=["str", "join", "f-string", "error message", "==", "in", "sorted", "dict key", "item write", "set"])
def test_one_native_call_cannot_walk_a_huge_shared_structure(script):
    """The time limit cannot interrupt one native call: these would hang or exhaust memory.
    The size guard's message (not the time limit's) shows the call was refused before it walked."""
    with pytest.raises(SandboxError, match="Value too large|longer than 100000"):
        run(script, time_limit=5)


def test_a_list_cannot_double_itself_past_the_limit():
    with pytest.raises(SandboxError, match="may hold at most 100000 elements"):
        run("l = [0] * 1000\nfor i in range(40):\n    l.extend(l)", time_limit=5)


class SteppingClock:
    """Stands in for the sandbox's ``time`` module: each reading is ``step`` seconds after the last."""

    def __init__(self, step: float):
        self.now = 0.0
        self.step = step

    def monotonic(self) -> float:
        self.now += self.step
        return self.now


def test_an_endless_loop_stops_on_the_time_limit(monkeypatch):
    # A driven clock, not a wait: the limit of 1 s passes after about twenty traced lines.
    monkeypatch.setattr(scripts, "time", SteppingClock(step=0.05))
    with pytest.raises(SandboxError, match="script exceeded its time limit of 1 s"):
        run("n = 0\nwhile True:\n    n += 1")


def test_a_script_cannot_catch_its_time_limit_and_go_on():
    # Were try allowed, the handler would swallow the time limit; Python then drops the
    # tracer and the second loop would run for ever.
    script = "try:\n    while True:\n        pass\nexcept ValueError:\n    pass\nwhile True:\n    pass"
    with pytest.raises(SandboxError, match="Try/except statements are not allowed"):
        sandbox.check_script(script)


def test_nested_comprehensions_building_big_lists_are_stopped():
    with pytest.raises(SandboxError, match="time limit|MB of memory"):
        run("x = [[i for i in range(100000)] for j in range(100000)]", time_limit=0.3)
    with pytest.raises(SandboxError, match="script used more than 256 MB of memory"):
        run("x = [[0] * 50000 for j in range(100000)]", time_limit=10)


def test_a_script_leaving_more_than_a_megabyte_is_refused():
    with pytest.raises(SandboxError, match="more than 1000000"):
        run("rows = []\nfor i in range(20):\n    rows.append('x' * 60000 + str(i))")
    data = {"keep": "me"}
    with pytest.raises(SandboxError):
        sandbox.run_script("big = ['y' * 90000 + str(i) for i in range(15)]", data, FUNCTIONS)
    assert data == {"keep": "me"}, "a refused script must leave the task data unchanged"


def test_a_script_may_not_leave_code_behind_in_the_task_data():
    # A generator kept in the data would run the script's loop later, outside any time limit.
    data = run("def forever():\n    while True:\n        yield 1\ngen = forever()\nkept = 1")
    assert data == {"kept": 1}
    with pytest.raises(SandboxError, match="script left a generator inside 'held'"):
        run("def forever():\n    while True:\n        yield 1\nheld = [forever()]")


def test_task_data_clashing_with_a_reserved_function_name_is_refused():
    with pytest.raises(SandboxError, match="reserved name\\(s\\): deadline"):
        run("x = 1", deadline="tomorrow")
    with pytest.raises(SandboxError, match="reserved name\\(s\\): len"):
        run("x = 1", len=3)


def test_attribute_writes_and_item_writes_on_other_types_are_refused():
    with pytest.raises(SandboxError, match="only lists and dictionaries can"):
        run("t = (1, 2)\nt[0] = 3")
    with pytest.raises(SandboxError, match="Attribute 'mro' of type is not available|is not available"):
        run("x = list.mro")


# --- messages ----------------------------------------------------------------------------------

def test_refusals_are_rendered_in_the_readers_language(app):
    """A process owner reads refusals in Japanese (DESIGN rule 11); the message stays lazy until shown."""
    with pytest.raises(SandboxError) as expression:
        sandbox.check_expression("__import__('os').system('id')", FUNCTIONS)
    with pytest.raises(SandboxError) as script:
        sandbox.check_script("import os\nx = ().__class__")
    with pytest.raises(SandboxError) as ran:
        run("n = 0\nwhile True:\n    n += 1", time_limit=0.2)
    assert str(expression.value).startswith("Only these functions may be called: abs, all, any")
    with force_locale("ja"):
        assert str(expression.value).startswith("呼び出せる関数は次のものだけです：abs, all, any")
        assert str(script.value) == ('1行目：スクリプトでは import 文は使用できません。 '
                                     '2行目："__class__" は「_」で始まるため、属性名として使用できません。')
        assert str(ran.value) == "スクリプトが制限時間（0.2秒）を超えました。"
    assert str(script.value).startswith("Line 1: Import statements are not allowed in scripts. Line 2: ")
