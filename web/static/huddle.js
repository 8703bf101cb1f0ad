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

// Live updates (Server-Sent Events): a board or thread page listens to its board's
// stream. Events carry ids only; a new reply on this thread is fetched as HTML through
// the same checks as the page, anything else gets a "show" link. Without this script
// the pages are complete and a reload shows everything.
(function () {
  var root = document.querySelector("[data-live-url]");
  if (!root || !window.EventSource || !window.fetch) { return; }
  var meta = document.querySelector('meta[name="huddle-session"]');
  var notice = document.getElementById("live-notice");
  var board = root.getAttribute("data-live-board");
  var thread = root.getAttribute("data-live-thread");
  function withSession(path) {
    if (!meta) { return path; }
    var u = new URL(path, window.location.origin);
    u.searchParams.set("hs", meta.content);
    return u.pathname + u.search + u.hash;
  }
  // A cookieless frame keeps its session in the hs parameter (see urlsession.js).
  function keepSession(el) {
    if (!meta) { return; }
    el.querySelectorAll('a[href^="/"]').forEach(function (a) { a.setAttribute("href", withSession(a.getAttribute("href"))); });
    el.querySelectorAll("form").forEach(function (f) {
      var i = document.createElement("input");
      i.type = "hidden"; i.name = "hs"; i.value = meta.content;
      f.appendChild(i);
    });
  }
  function tell(text, linkText) {
    if (!notice) { return; }
    notice.textContent = text + " ";
    if (linkText) {
      var a = document.createElement("a");
      a.href = withSession(window.location.pathname + window.location.search);
      a.textContent = linkText;
      notice.appendChild(a);
    }
  }
  var es = new EventSource(withSession(root.getAttribute("data-live-url")));
  es.addEventListener("post", function (ev) {
    var d;
    try { d = JSON.parse(ev.data); } catch (e) { return; }
    if (!thread) { tell("There are new posts on this board.", "Show them"); return; }
    if (d.thread !== thread || document.getElementById("post-" + d.post)) { return; }
    fetch(withSession("/activities/" + board + "/threads/" + d.thread + "/posts/" + d.post), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        if (!html || document.getElementById("post-" + d.post)) { return; }
        var tpl = document.createElement("template");
        tpl.innerHTML = html;
        var post = tpl.content.querySelector("article");
        if (!post) { return; }
        keepSession(post);
        var parent = post.getAttribute("data-parent");
        var list = (parent && parent !== "0" && document.getElementById("replies-" + parent)) || document.getElementById("posts");
        var li = document.createElement("li");
        li.appendChild(post);
        list.appendChild(li);
        var none = document.getElementById("no-replies");
        if (none) { none.remove(); }
        tell("A new reply was added below.");
      })
      .catch(function () { tell("There are new replies.", "Show them"); });
  });
  es.addEventListener("resync", function () { tell("This page may be out of date.", "Reload it"); });
})();

// Move focus to an error summary, so screen reader and keyboard users hear it first.
(function () {
  var s = document.querySelector("[data-focus]");
  if (s) { s.focus(); }
})();
