// Designer page glue: the bpmn-js modeler (ShodakuDesigner, /static/vendor/designer.js) wired to
// the server's validate / draft / deploy endpoints. Without the bundle the page still works on
// the XML text area; this script then only adds Validate and keeps the form submits as JSON.
(function () {
  "use strict";
  var dataEl = document.getElementById("designer-data");
  var form = document.getElementById("designer-form");
  if (!dataEl || !form) { return; }
  var cfg = JSON.parse(dataEl.textContent);
  var source = document.getElementById("designer-xml");
  var status = document.getElementById("designer-status");
  var list = document.getElementById("designer-problems");
  var holder = document.getElementById("designer");
  var details = document.getElementById("designer-source");
  var note = document.getElementById("designer-note");
  var designer = null;
  var dirty = false;
  var busy = false;

  function say(text, kind) {
    status.textContent = text || "";
    status.className = "designer-status" + (kind ? " " + kind : "");
  }

  function currentXml() {
    if (!designer) { return Promise.resolve(source.value); }
    return Promise.resolve(designer.getXML()).then(function (result) {
      var xml = typeof result === "string" ? result : (result && result.xml) || "";
      source.value = xml;
      return xml;
    });
  }

  function showProblems(problems) {
    list.textContent = "";
    (problems || []).forEach(function (p) {
      var item = document.createElement("li");
      item.setAttribute("data-element", p.element_id || "");
      var code = document.createElement("code");
      code.textContent = p.element_id || "-";
      item.appendChild(code);
      var where = (p.name ? " " + p.name : "") + (p.line ? " (" + p.line + ")" : "");
      item.appendChild(document.createTextNode(where + ": " + p.message));
      list.appendChild(item);
    });
    if (designer) {
      designer.clearHighlights();
      var located = (problems || []).filter(function (p) { return p.element_id; })
        .map(function (p) { return { element_id: p.element_id, message: p.message }; });
      if (located.length) { designer.highlight(located); }
    }
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": cfg.csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return { ok: false, message: cfg.messages.failed }; })
        .then(function (json) { json.httpStatus = response.status; return json; });
    }, function () { return { ok: false, message: cfg.messages.failed }; });
  }

  function run(label, work) {
    if (busy) { return Promise.resolve(); }
    busy = true;
    say(label, "busy");
    return currentXml().then(work).catch(function () { say(cfg.messages.failed, "bad"); })
      .then(function () { busy = false; });
  }

  function report(result) {
    showProblems(result.problems);
    var count = (result.problems || []).length;
    if (result.ok) { say(result.message || cfg.messages.ok, "good"); }
    else if (count) { say(cfg.messages.problems.replace("{n}", count), "bad"); }
    else { say(result.message || cfg.messages.failed, "bad"); }
  }

  function validate() {
    return run(cfg.messages.validating, function (xml) {
      return post(cfg.urls.validate, { xml: xml }).then(report);
    });
  }

  function saveDraft() {
    return run(cfg.messages.saving, function (xml) {
      return post(cfg.urls.draft, { xml: xml, base_version: cfg.base_version }).then(function (result) {
        if (result.ok) { dirty = false; say(result.message || cfg.messages.saved, "good"); }
        else { report(result); }
      });
    });
  }

  function deploy() {
    return run(cfg.messages.deploying, function (xml) {
      return post(cfg.urls.deploy, { xml: xml, note: note ? note.value : "", base_version: cfg.base_version })
        .then(function (result) {
          if (result.ok && result.redirect) { dirty = false; window.location.assign(result.redirect); return; }
          report(result);
        });
    });
  }

  function download() {
    currentXml().then(function (xml) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([xml], { type: "application/xml" }));
      link.download = cfg.key + ".bpmn";
      document.body.appendChild(link);
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 0);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var submitter = event.submitter;
    if (submitter && submitter.id === "designer-save") { saveDraft(); } else { deploy(); }
  });
  var validateButton = document.getElementById("designer-validate");
  var downloadButton = document.getElementById("designer-download");
  validateButton.hidden = false;
  downloadButton.hidden = false;
  validateButton.addEventListener("click", validate);
  downloadButton.addEventListener("click", download);
  source.addEventListener("input", function () { dirty = true; });
  window.addEventListener("beforeunload", function (event) {
    if (dirty) { event.preventDefault(); event.returnValue = cfg.messages.unsaved; }
  });

  function fallBack() {
    designer = null;
    if (holder) { holder.hidden = true; }
    if (details) { details.open = true; }
    say(cfg.messages.editorFailed, "bad");
  }

  if (!cfg.editor || typeof window.ShodakuDesigner === "undefined") {
    if (cfg.editor) { fallBack(); }
    return;
  }
  holder.hidden = false;
  window.ShodakuDesigner.create({
    canvas: document.getElementById("designer-canvas"),
    panel: document.getElementById("designer-panel"),
    xml: source.value,
    roles: cfg.roles, handlers: cfg.handlers, forms: cfg.forms, patterns: cfg.patterns, locale: cfg.locale
  }).then(function (created) {
    designer = created;
    if (details) { details.open = false; }
    // The text area mirrors the canvas; editing it directly re-imports the diagram.
    source.readOnly = false;
    source.addEventListener("change", function () {
      designer.importXML(source.value).catch(function () { say(cfg.messages.editorFailed, "bad"); });
    });
    designer.on("changed", function () { dirty = true; });
    if (cfg.problems && cfg.problems.length) { showProblems(cfg.problems); }
  }, fallBack);
})();
