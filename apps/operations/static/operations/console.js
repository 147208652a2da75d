// Refreshes the console's live fragment every few seconds without reloading the page, and
// makes action buttons safe to double-click (the server also replays a repeated button key).
(function () {
  "use strict";
  var root = document.getElementById("ops-live");
  var status = document.getElementById("ops-status");
  if (!root) { return; }
  var url = root.dataset.url;
  var every = Math.max(1, parseInt(root.dataset.refreshSeconds || "5", 10)) * 1000;
  var busy = false;

  function setStatus(state, text) {
    if (!status) { return; }
    status.dataset.state = state;
    status.textContent = text;
  }

  function refresh() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" }, redirect: "error" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        root.innerHTML = html;
        setStatus("live", "live · " + new Date().toLocaleTimeString());
      })
      .catch(function (error) { setStatus("stale", "stale (" + error.message + ")"); })
      .finally(function () { busy = false; });
  }

  root.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    busy = true;  // no refresh may swap the form out while it is being submitted
    var button = form.querySelector("button");
    if (button) { button.disabled = true; button.textContent = "…"; }
  });

  window.setInterval(refresh, every);
})();
