// The instance page's diagram: fetch the version's BPMN and the path taken, show it with the
// bpmn-js viewer (ShodakuViewer, /static/vendor/viewer.js). Any failure leaves the section hidden:
// the page lists the same steps in text.
(function () {
  "use strict";
  var dataEl = document.getElementById("instance-diagram-data");
  var container = document.getElementById("instance-diagram");
  if (!dataEl || !container || typeof window.ShodakuViewer === "undefined" || !window.fetch) { return; }
  var section = container.closest("section");
  var cfg = JSON.parse(dataEl.textContent);
  fetch(cfg.url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (response) { if (!response.ok) { throw new Error(String(response.status)); } return response.json(); })
    .then(function (diagram) {
      if (section) { section.hidden = false; }
      return window.ShodakuViewer.show({
        container: container, xml: diagram.xml,
        completed: diagram.completed, current: diagram.current, flows: diagram.flows
      });
    })
    .catch(function () { if (section) { section.hidden = true; } });
})();
