"""Developer check of the built front-end bundles in a real browser.

Serves webapp/static/vendor/ and scratch pages from a loopback http.server that
sends the app's CSP, drives Debian's Chromium with Playwright, and checks the
designer (copying_consent.bpmn round trip, Japanese panel, edits, highlights,
keyboard, English locale) and the viewer (markers).

    make webapp/static/vendor/.built        # build the bundles first
    .venv/bin/python frontend/check_bundles.py [--screenshots DIR]

Exit status 0 when every check passes. Not part of the pytest suite.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import shutil
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "webapp" / "static" / "vendor"
BPMN = ROOT / "processes" / "copying_consent.bpmn"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self'; connect-src 'self'")
SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
BPMN_NS = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]

CONFIG = {
    "roles": [{"key": "contractor_staff", "label": "受託者 担当者"},
              {"key": "contractor_manager", "label": "受託者 責任者"},
              {"key": "city_approver", "label": "市 承認者"},
              {"key": "city_supervisor", "label": "市 課長"}],
    "handlers": [{"name": "remind", "doc": "担当者に督促メールを送ります。"},
                 {"name": "escalate", "doc": "上位のロールにエスカレーションします。"},
                 {"name": "register_copy", "doc": "複製物台帳に登録します。"},
                 {"name": "notify_requester", "doc": "申請者に通知します。"}],
    "forms": ["copying_consent/request.json", "common/decision.json"],
}

PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>check</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/vendor/{bundle}.css">
<style>body{{margin:0;font-family:sans-serif}} #canvas{{position:absolute;left:0;top:0;right:360px;bottom:0}}
#panel{{position:absolute;top:0;right:0;width:360px;bottom:0}} #viewer{{width:1200px;height:640px}}</style>
</head><body>
<div id="canvas"></div><div id="panel"></div><div id="viewer"></div>
<script src="/static/vendor/{bundle}.js"></script>
<script src="/scratch/{glue}"></script>
</body></html>"""

# Page glue (external files: the CSP forbids inline scripts).
DESIGNER_GLUE = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
window.changes = 0;
(async () => {
  const params = new URLSearchParams(location.search);
  const [xml, config] = await Promise.all([
    fetch('/processes/copying_consent.bpmn').then((r) => r.text()),
    fetch('/scratch/config.json').then((r) => r.json())
  ]);
  window.designer = await ShodakuDesigner.create({
    canvas: document.getElementById('canvas'),
    panel: document.getElementById('panel'),
    xml, locale: params.get('locale') || 'ja', ...config
  });
  window.designer.on('changed', () => { window.changes += 1; });
  window.ready = true;
})().catch((err) => { window.failed = String(err && err.stack || err); });
"""

VIEWER_GLUE = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
(async () => {
  const xml = await fetch('/processes/copying_consent.bpmn').then((r) => r.text());
  window.shown = await ShodakuViewer.show({
    container: document.getElementById('viewer'), xml,
    completed: ['start', 'request'], current: ['approve'],
    flows: ['flow_start_request', 'flow_request_approve', 'no_such_flow']
  });
  window.ready = true;
})().catch((err) => { window.failed = String(err && err.stack || err); });
"""


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves /static/vendor/, /processes/ and /scratch/ with the app's CSP."""

    scratch: Path

    def translate_path(self, path):
        path = path.split("?", 1)[0].split("#", 1)[0]
        for prefix, base in (("/static/vendor/", VENDOR), ("/processes/", ROOT / "processes"),
                             ("/scratch/", self.scratch)):
            if path.startswith(prefix):
                target = (base / path[len(prefix):]).resolve()
                if base.resolve() in target.parents:
                    return str(target)
        return str(self.scratch / "404")

    def end_headers(self):
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args):
        pass


class Checker:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, condition, what, detail=""):
        if condition:
            self.passed += 1
            print(f"ok   - {what}")
        else:
            self.failed += 1
            print(f"FAIL - {what}" + (f": {detail}" if detail else ""))
        return condition


def spiff_elements(xml_text):
    """Every spiffworkflow element as (owner BPMN id, path, attributes, text), in document order."""
    root = ET.fromstring(xml_text)
    found = []

    def walk(node, owner, path):
        if node.tag.startswith(BPMN_NS) and node.get("id"):
            owner = node.get("id")
        for child in node:
            tag = child.tag
            if tag.startswith(SPIFF):
                name = tag[len(SPIFF):]
                found.append((owner, path + "/" + name, tuple(sorted(child.attrib.items())),
                              (child.text or "").strip()))
                walk(child, owner, path + "/" + name)
            else:
                walk(child, owner, path)

    walk(root, None, "")
    return found


def with_extra_spiff(xml_text):
    """copying_consent plus preScript/postScript/instructionsForEndUser on the request task."""
    anchor = ('<spiffworkflow:property name="form" value="copying_consent/request.json" />\n'
              '        </spiffworkflow:properties>')
    assert anchor in xml_text, "copying_consent.bpmn changed shape; update with_extra_spiff()"
    extra = ('<spiffworkflow:preScript>limit = 3\nif limit &lt; 5:\n    note = "短い"</spiffworkflow:preScript>'
             '<spiffworkflow:postScript>done = True</spiffworkflow:postScript>'
             '<spiffworkflow:instructionsForEndUser>## 手順\n{{ purpose }} を確認</spiffworkflow:instructionsForEndUser>')
    return xml_text.replace(anchor, anchor + extra)


# Known upstream deprecation notice: bpmn-js' own ContextPadProvider still calls
# ContextPad#getPad when the replace menu opens (bpmn-js 18.31 / diagram-js 15.28).
KNOWN_WARNINGS = ("ContextPad#getPad is deprecated",)


def on_console(problems, message):
    if message.type in ("error", "warning") and not any(k in message.text for k in KNOWN_WARNINGS):
        problems.append(f"console.{message.type}: {message.text}")


def wait_until(page, predicate, arg=None, timeout=5.0):
    """Poll a JS predicate from Python. (page.wait_for_function polls with eval
    inside the page, which the CSP under test rightly refuses.)"""
    deadline = time.monotonic() + timeout
    while not page.evaluate(predicate, arg):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {predicate}")
        page.wait_for_timeout(50)


def open_page(browser, base, page_name, problems, query=""):
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.on("console", functools.partial(on_console, problems))
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.on("request", lambda r: problems.append(f"off-origin request: {r.url}")
            if not (r.url.startswith(base) or r.url.startswith("data:")) else None)
    page.goto(f"{base}/scratch/{page_name}{query}")
    wait_until(page, "() => !!(window.ready || window.failed)", timeout=20)
    failed = page.evaluate("window.failed")
    if failed:
        raise RuntimeError(f"{page_name}: {failed}")
    return page


def entry(page, entry_id, selector):
    return page.locator(f'.bio-properties-panel [data-entry-id="{entry_id}"] {selector}')


def toggle(page, entry_id, checked):
    """Click a panel checkbox and wait until the panel shows the new state.

    (Playwright's check()/uncheck() read the state right after the click, while
    the panel may still be re-rendering from the previous value.)"""
    box = entry(page, entry_id, "input[type=checkbox]")
    box.click()
    wait_until(page, "([sel, want]) => document.querySelector(sel).checked === want",
               [f'.bio-properties-panel [data-entry-id="{entry_id}"] input[type=checkbox]', checked])


def select(page, element_id):
    page.evaluate("""(id) => { const m = window.designer.modeler;
        m.get('selection').select(m.get('elementRegistry').get(id)); }""", element_id)
    page.wait_for_timeout(150)


def check_designer(c, browser, base, original, shots):
    problems = []
    page = open_page(browser, base, "designer.html", problems)
    c.check(page.locator(".djs-palette .entry").count() > 5, "designer renders palette")
    c.check(page.locator('.djs-palette [data-action="create.start-event"]').get_attribute("aria-label") == "開始イベントを作成",
            "palette labels in Japanese")
    c.check(page.evaluate("document.fonts.check('16px bpmn')"), "bpmn icon font loaded from vendor/fonts")

    # -- approve task, selected by a real click on the shape
    page.locator('.djs-element[data-element-id="approve"] .djs-hit').first.click()
    page.wait_for_timeout(200)
    titles = page.locator(".bio-properties-panel-group-header-title").all_inner_texts()
    c.check("タスク設定" in titles and "基本" in titles and "説明" in titles,
            "panel group titles in Japanese", titles)
    c.check(entry(page, "shodaku-form", "select").input_value() == "common/decision.json", "form = common/decision.json")
    c.check(entry(page, "shodaku-due", "input").input_value() == "3bd", "due = 3bd")
    c.check(entry(page, "shodaku-decision", "input[type=checkbox]").is_checked(), "decision checked")
    c.check(entry(page, "shodaku-not_requester", "input[type=checkbox]").is_checked(), "not_requester checked")
    c.check(entry(page, "shodaku-due", "label").inner_text().strip() == "期限", "due label in Japanese")
    options = entry(page, "shodaku-separate_from", "option").all_inner_texts()
    c.check(any("承諾申請の入力 (request)" in o for o in options) and not any("(approve)" in o for o in options),
            "separate_from offers the other user tasks", options)
    c.check(page.locator('.djs-context-pad [data-action="replace"]').get_attribute("title") == "種類を変更",
            "context pad in Japanese")
    page.locator('.djs-context-pad [data-action="replace"]').click()
    c.check("サービスタスク" in page.locator(".djs-popup .entry").all_inner_texts(), "replace menu in Japanese")
    if shots:
        page.screenshot(path=str(shots / "designer-replace.png"))
    page.keyboard.press("Escape")
    c.check(page.locator(".djs-popup").count() == 0, "Escape closes the replace menu")
    if shots:
        page.screenshot(path=str(shots / "designer-approve.png"))

    # -- edit name and due through the panel
    entry(page, "name", "textarea").fill("市の承諾審査（改）")
    entry(page, "shodaku-due", "input").fill("5bd")
    entry(page, "shodaku-separate_from", "select").select_option("request")
    page.wait_for_timeout(700)  # debounce
    toggle(page, "shodaku-decision", False)
    c.check(page.evaluate("window.changes") > 0, "on('changed') fired")

    # -- a task without properties gets them; a new task gets extensionElements
    select(page, "request")
    toggle(page, "shodaku-not_requester", True)
    page.evaluate("""() => { const m = window.designer.modeler;
        const businessObject = m.get('bpmnFactory').create('bpmn:UserTask', { id: 'new_task' });
        const shape = m.get('elementFactory').createShape({ type: 'bpmn:UserTask', businessObject });
        m.get('modeling').createShape(shape, { x: 1000, y: 520 }, m.get('elementRegistry').get('Participant_copying_consent')); }""")
    select(page, "new_task")
    entry(page, "shodaku-form", "select").select_option("copying_consent/request.json")
    entry(page, "shodaku-due", "input").fill("2d")
    page.wait_for_timeout(700)
    c.check(entry(page, "shodaku-due", ".bio-properties-panel-error").count() == 0, "valid due accepted")
    entry(page, "shodaku-due", "input").fill("3 days")
    page.wait_for_timeout(700)
    c.check(entry(page, "shodaku-due", ".bio-properties-panel-error").count() == 1, "invalid due refused with a message")
    entry(page, "shodaku-due", "input").fill("2d")
    page.wait_for_timeout(700)

    # -- conditions: the default flow has none; a new one can be written
    select(page, "flow_not_copy")
    c.check(entry(page, "shodaku-condition-expression", "textarea").count() == 0, "default flow offers no condition")
    select(page, "flow_join_notify")
    entry(page, "shodaku-condition-expression", "textarea").fill('kind != ""')
    page.wait_for_timeout(700)

    # -- service task: operator + parameter list; add one parameter
    select(page, "escalate_supervisor")
    c.check(entry(page, "shodaku-operator", "select").input_value() == "escalate", "operator = escalate")
    c.check(entry(page, "shodaku-parameter-2-id", "input").input_value() == "level", "parameters listed")
    page.locator('[data-group-id="group-shodaku-parameters"] .bio-properties-panel-add-entry').click()
    page.wait_for_timeout(200)

    # -- lane role select, sequence flow condition, timer
    select(page, "Lane_city")
    lane = entry(page, "name", "select")
    c.check(lane.input_value() == "city_approver" and "市 承認者 (city_approver)" in lane.locator("option").all_inner_texts(),
            "lane name is a role select (label shown, key stored)")
    select(page, "flow_approved")
    c.check(entry(page, "shodaku-condition-expression", "textarea").input_value() == 'decision == "approve"',
            "sequence flow condition shown")
    select(page, "approve_overdue")
    c.check(entry(page, "shodaku-timer-type", "select").input_value() == "timeDate"
            and entry(page, "shodaku-timer-value", "input").input_value() == 'deadline("3bd")',
            "timer type and expression shown")
    select(page, "Participant_copying_consent")
    c.check(entry(page, "shodaku-reference_prefix", "input").input_value() == "CPY", "process reference_prefix shown")

    # -- export
    exported = page.evaluate("window.designer.getXML()")
    root = ET.fromstring(exported)
    approve = root.find(f".//{BPMN_NS}userTask[@id='approve']")
    c.check(approve is not None and approve.get("name") == "市の承諾審査（改）", "exported XML has the new name")
    after = spiff_elements(exported)
    props = {dict(e[2]).get("name"): dict(e[2]).get("value")
             for e in after if e[0] == "approve" and e[1].endswith("/property")}
    c.check(props.get("due") == "5bd", "exported XML has due = 5bd", props)
    c.check(props.get("separate_from") == "request", "exported XML has separate_from = request", props)
    before = spiff_elements(original)
    c.check("decision" not in props, "unchecked decision removed from the XML", props)
    expected = [e for e in before if not (e[0] == "approve" and dict(e[2]).get("name") in ("due", "decision"))]
    missing = [e for e in expected if e not in after]
    c.check(not missing, f"all {len(expected)} other original spiffworkflow elements kept", missing)
    request_props = [dict(e[2]) for e in after if e[0] == "request" and e[1].endswith("/property")]
    c.check({"name": "not_requester", "value": "true"} in request_props and len(request_props) == 2,
            "not_requester added beside the existing form property", request_props)
    new_props = {dict(e[2])["name"]: dict(e[2])["value"] for e in after if e[0] == "new_task" and e[1].endswith("/property")}
    c.check(new_props == {"form": "copying_consent/request.json", "due": "2d"}, "new task gets its properties", new_props)
    join = root.find(f".//{BPMN_NS}sequenceFlow[@id='flow_join_notify']/{BPMN_NS}conditionExpression")
    c.check(join is not None and join.text == 'kind != ""'
            and join.get("{http://www.w3.org/2001/XMLSchema-instance}type") == "bpmn:tFormalExpression",
            "new condition written as tFormalExpression")
    added = [e for e in after if e[0] == "escalate_supervisor" and dict(e[2]).get("id") == "param4"]
    c.check(len(added) == 1 and dict(added[0][2]).get("type") == "str", "added parameter exported with type str")
    c.check(exported.count('xsi:type="bpmn:tFormalExpression"') == 7, "conditions and timers keep tFormalExpression")

    # -- keyboard on the canvas: undo / redo
    page.locator("#canvas svg").first.focus()
    page.keyboard.press("Control+z")
    can_redo = page.evaluate("window.designer.modeler.get('commandStack').canRedo()")
    page.keyboard.press("Control+y")
    c.check(can_redo and not page.evaluate("window.designer.modeler.get('commandStack').canRedo()"),
            "keyboard undo/redo on the canvas")

    # -- highlight
    count = page.evaluate("""window.designer.highlight([
        {element_id: 'approve', message: '期限の設定がありません'},
        {element_id: 'flow_approved', message: '条件を確認してください'},
        {element_id: 'no_such_element', message: 'ignored'}])""")
    c.check(count == 2, "highlight() marks known ids, ignores unknown", count)
    c.check(page.locator('.djs-element.shodaku-problem[data-element-id="approve"]').count() == 1, "problem marker on approve")
    c.check(page.locator(".shodaku-problem-badge").count() == 2, "problem badges shown")
    badge = page.locator('.djs-overlays[data-container-id="approve"] .shodaku-problem-badge')
    badge.hover()
    tip = page.locator('.djs-overlays[data-container-id="approve"] .shodaku-problem-tip')
    c.check(tip.is_visible() and "期限の設定がありません" in tip.inner_text(), "tooltip shows the message")
    if shots:
        page.screenshot(path=str(shots / "designer-highlight.png"))
    page.evaluate("window.designer.clearHighlights()")
    c.check(page.locator(".shodaku-problem-badge").count() == 0
            and page.locator(".djs-element.shodaku-problem").count() == 0, "clearHighlights() removes them")

    # -- re-import the export, then a diagram with pre/post scripts and instructions
    warnings = page.evaluate("(xml) => window.designer.importXML(xml).then((w) => w.length)", exported)
    again = page.evaluate("window.designer.getXML()")
    c.check(warnings == 0 and spiff_elements(again) == after, "export re-imports without loss")
    extra_xml = with_extra_spiff(original)
    page.evaluate("(xml) => window.designer.importXML(xml)", extra_xml)
    extra_out = page.evaluate("window.designer.getXML()")
    c.check(spiff_elements(extra_out) == spiff_elements(extra_xml),
            "preScript, postScript, instructionsForEndUser round-trip",
            set(spiff_elements(extra_xml)) ^ set(spiff_elements(extra_out)))

    csp = page.evaluate("window.cspViolations")
    c.check(not csp, "no CSP violations (designer)", csp)
    c.check(not problems, "no console errors, failed or off-origin requests (designer)", problems)
    page.evaluate("window.designer.destroy()")
    c.check(page.evaluate("document.querySelector('#panel .bio-properties-panel') === null"
                          " && document.querySelector('#canvas .djs-container') === null"),
            "destroy() removes canvas and panel")
    page.close()

    # -- English
    problems = []
    page = open_page(browser, base, "designer.html", problems, "?locale=en")
    page.locator('.djs-element[data-element-id="approve"] .djs-hit').first.click()
    page.wait_for_timeout(200)
    titles = page.locator(".bio-properties-panel-group-header-title").all_inner_texts()
    c.check("Task settings" in titles and "General" in titles, "locale en: English panel", titles)
    c.check(not problems, "no console errors (designer, en)", problems)
    page.close()


def check_viewer(c, browser, base, shots):
    problems = []
    page = open_page(browser, base, "viewer.html", problems)
    c.check(page.locator('.djs-element.shodaku-completed[data-element-id="request"]').count() == 1, "viewer: completed marker")
    c.check(page.locator('.djs-element.shodaku-current[data-element-id="approve"]').count() == 1, "viewer: current marker")
    c.check(page.locator(".djs-connection.shodaku-taken").count() == 2, "viewer: path taken marked, unknown id ignored")
    stroke = page.evaluate("""getComputedStyle(document.querySelector(
        '.djs-element[data-element-id="approve"] .djs-visual > rect')).stroke""")
    c.check(stroke == "rgb(11, 87, 208)", "viewer.css styles the current step", stroke)
    c.check(page.locator(".djs-palette").count() == 0, "viewer has no editing tools")
    if shots:
        page.screenshot(path=str(shots / "viewer.png"))
    csp = page.evaluate("window.cspViolations")
    c.check(not csp, "no CSP violations (viewer)", csp)
    c.check(not problems, "no console errors, failed or off-origin requests (viewer)", problems)
    page.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshots", type=Path, help="write screenshots into this directory")
    args = parser.parse_args(argv)
    if not (VENDOR / "designer.js").exists() or not (VENDOR / "viewer.js").exists():
        print("bundles missing: run `make webapp/static/vendor/.built` first", file=sys.stderr)
        return 2
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)

    scratch = Path(tempfile.mkdtemp(prefix="shodaku-check-"))
    try:
        (scratch / "designer.html").write_text(PAGE.format(lang="ja", bundle="designer", glue="designer-glue.js"), "utf-8")
        (scratch / "viewer.html").write_text(PAGE.format(lang="ja", bundle="viewer", glue="viewer-glue.js"), "utf-8")
        (scratch / "designer-glue.js").write_text(DESIGNER_GLUE, "utf-8")
        (scratch / "viewer-glue.js").write_text(VIEWER_GLUE, "utf-8")
        (scratch / "config.json").write_text(json.dumps(CONFIG, ensure_ascii=False), "utf-8")
        handler = type("ScratchHandler", (Handler,), {"scratch": scratch})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_address[1]}"

        c = Checker()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                check_designer(c, browser, base, BPMN.read_text("utf-8"), args.screenshots)
                check_viewer(c, browser, base, args.screenshots)
            finally:
                browser.close()
        server.shutdown()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    sizes = ", ".join(f"{f.name} {f.stat().st_size // 1024} KiB"
                      for f in sorted(VENDOR.glob("*.js")) + sorted(VENDOR.glob("*.css")))
    print(f"bundles: {sizes}")
    print(f"{c.passed} passed, {c.failed} failed")
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
