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

  // Search everywhere: arrow keys move from the box through the results and back,
  // Escape closes them; Enter opens the result in focus (a plain link).
  document.addEventListener("keydown", function (event) {
    var box = document.getElementById("nav-search");
    var panel = document.getElementById("nav-search-results");
    if (!box || !panel) {
      return;
    }
    var inBox = event.target === box;
    var inPanel = panel.contains(event.target);
    if (!inBox && !inPanel) {
      return;
    }
    var hits = Array.from(panel.querySelectorAll("a.search-hit"));
    var at = hits.indexOf(event.target);
    if (event.key === "ArrowDown" && hits.length) {
      event.preventDefault();
      hits[Math.min(at + 1, hits.length - 1)].focus();
    } else if (event.key === "ArrowUp" && inPanel) {
      event.preventDefault();
      if (at <= 0) {
        box.focus();
      } else {
        hits[at - 1].focus();
      }
    } else if (event.key === "Escape") {
      panel.innerHTML = "";
      box.focus();
    }
  });
})();
