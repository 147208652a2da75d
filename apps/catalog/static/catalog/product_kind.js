/* Product form: show only the sections and inlines of the chosen kind.
 *
 * The add page carries every kind's fields; sections and inline groups that belong to some kinds
 * only have the classes "kind-only kind-<kind> ...". Without JavaScript everything stays visible
 * (and the server ignores what the chosen kind does not use). No build step, no dependency.
 */
(function () {
  "use strict";

  function container(element) {
    // An inline's classes are on its <fieldset>; hide its whole group (heading, table, "add" link).
    return element.closest("[id$='-group']") || element;
  }

  function apply(select) {
    var kind = select.value;
    document.querySelectorAll(".kind-only").forEach(function (element) {
      var show = kind === "" || element.classList.contains("kind-" + kind);
      var target = container(element);
      target.hidden = !show;
      target.style.display = show ? "" : "none";  // the theme's display classes beat [hidden]
    });
  }

  function start() {
    var select = document.getElementById("id_kind");
    if (!select || select.tagName !== "SELECT") {
      return;  // the change page: the kind is fixed and only its sections are there
    }
    select.addEventListener("change", function () { apply(select); });
    apply(select);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
