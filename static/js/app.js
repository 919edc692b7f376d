// Small glue for Vitals pages. Kept free of inline handlers so the CSP stays strict.
(function () {
  "use strict";
  // Filter forms submit through htmx on change; a plain submit button stays for no-JS use.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-autosubmit] .js-hide").forEach(function (el) {
      el.hidden = true;
    });
  });
})();
