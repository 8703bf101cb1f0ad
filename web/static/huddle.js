// Huddle's page script: inside a platform's iframe, asks the platform to fit the frame
// to the page (LTI Client Side postMessages, lti.frameResize) whenever its height
// changes. Outside a frame it does nothing. Every action on the page works without it.
(function () {
  if (window.parent === window) { return; }
  var last = 0;
  function fit() {
    var h = Math.ceil(document.documentElement.scrollHeight);
    if (h === last) { return; }
    last = h;
    // The platform's origin is not known to the page, and the message carries nothing
    // but a height, so it is posted to any origin.
    window.parent.postMessage({ subject: "lti.frameResize", height: h }, "*");
  }
  window.addEventListener("load", fit);
  if (window.ResizeObserver) {
    new ResizeObserver(fit).observe(document.documentElement);
  } else {
    window.addEventListener("resize", fit);
  }
  fit();
})();

// "Open in new window": the framed session is not visible to a new top-level window,
// so ask for a single-use ticket and open the window on it. The window is opened at
// once (inside the click) so that pop-up blockers allow it, then sent to the ticket.
(function () {
  var csrf = document.querySelector('meta[name="csrf-token"]');
  document.querySelectorAll("a[data-new-window]").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      if (!csrf || !window.fetch) { return; }
      ev.preventDefault();
      var w = window.open("", "_blank");
      var body = new URLSearchParams({ path: a.getAttribute("href") });
      fetch("/handoff", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf.content }, body: body })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (j) { if (w) { w.opener = null; w.location = j.url; } else { window.open(j.url, "_blank", "noopener"); } })
        .catch(function () { if (w) { w.close(); } window.alert("Huddle could not open a new window. Reload the page and try again."); });
    });
  });
})();
