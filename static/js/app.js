// Small glue for Vitals pages. Kept free of inline handlers so the CSP stays strict.
(function () {
  "use strict";
  // Filter forms submit through htmx on change; a plain submit button stays for no-JS use.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-autosubmit] .js-hide").forEach(function (el) {
      el.hidden = true;
    });
  });

  // A filter form sends only the fields in use, so the URL htmx pushes stays short
  // and reads like the filters a person chose (it is the URL they will share).
  document.addEventListener("htmx:configRequest", function (event) {
    var detail = event.detail;
    if (detail.verb !== "get" || !detail.elt.matches("form[data-autosubmit]")) {
      return;
    }
    var data = detail.formData;
    Array.from(new Set(data.keys())).forEach(function (key) {
      var blank = data.getAll(key).every(function (value) {
        return typeof value === "string" && value.trim() === "";
      });
      if (blank) {
        data.delete(key);
      }
    });
  });
})();
