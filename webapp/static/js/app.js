// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  // Fields with data-show-if='{"kind": ["copy"]}' are shown only when the named field has one of the values.
  function currentValues(form, name) {
    var values = [];
    form.querySelectorAll('[name="' + name + '"]').forEach(function (input) {
      if ((input.type === "radio" || input.type === "checkbox") ? input.checked : true) { values.push(input.value); }
    });
    return values;
  }
  function refresh(form) {
    form.querySelectorAll("[data-show-if]").forEach(function (field) {
      var rule = JSON.parse(field.getAttribute("data-show-if"));
      var visible = Object.keys(rule).every(function (name) {
        return currentValues(form, name).some(function (v) { return rule[name].indexOf(v) !== -1; });
      });
      field.hidden = !visible;
    });
  }
  document.querySelectorAll("form.schema-form").forEach(function (form) {
    form.addEventListener("change", function () { refresh(form); });
    refresh(form);
  });
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
