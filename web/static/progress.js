// Updates a bulk issue's "N of M issued" while its jobs run: asks the JSON at the
// element's data-url every two seconds until every job has finished, then stops. The
// page works without it: its refresh link shows the same count.
(function () {
  var el = document.getElementById("bulk-progress");
  if (!el || el.getAttribute("data-finished") === "true") { return; }
  var url = new URL(el.getAttribute("data-url"), window.location.origin);
  var meta = document.querySelector('meta[name="huddle-session"]');
  if (meta) { url.searchParams.set("hs", meta.content); }
  var count = el.querySelector("[data-count]");
  var done = document.getElementById("bulk-done");
  function poll() {
    fetch(url.pathname + url.search, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (p) {
        count.textContent = p.done + " of " + p.total + " issued" + (p.failed ? " (" + p.failed + " could not be issued)" : "");
        if (p.finished) {
          el.setAttribute("data-finished", "true");
          if (done) { done.hidden = false; }
          return;
        }
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();
