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
  var framed = window.top !== window.self;
  document.querySelectorAll("a[data-new-window]").forEach(function (a) {
    // Already a window of its own: another would only be a copy of this one.
    if (!framed) { a.hidden = true; return; }
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
    if (!thread) { addThread(d); return; }
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
        tell("A new reply was added to the thread.");
      })
      .catch(function () { tell("There are new replies.", "Show them"); });
  });
  // On the board's list: a new thread is added at the top (unless the list is filtered,
  // when it may not belong); new replies to a listed thread get a "show" link.
  function addThread(d) {
    var filtered = window.location.search.replace(/[?&]hs=[^&]*/, "").length > 1;
    if (document.getElementById("thread-" + d.thread) || filtered) { tell("There are new posts on this board.", "Show them"); return; }
    fetch(withSession("/activities/" + board + "/threads/" + d.thread + "/item"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        if (!html || document.getElementById("thread-" + d.thread)) { return; }
        var tpl = document.createElement("template");
        tpl.innerHTML = html;
        var item = tpl.content.querySelector("li");
        if (!item) { return; }
        var list = document.getElementById(item.getAttribute("data-kind") === "opportunity" ? "opportunities" : "threads");
        if (!list) { tell("There are new posts on this board.", "Show them"); return; }
        keepSession(item);
        list.insertBefore(item, list.firstChild);
        tell("A new post was added to the list.");
      })
      .catch(function () { tell("There are new posts on this board.", "Show them"); });
  }
  es.addEventListener("resync", function () { tell("This page may be out of date.", "Reload it"); });
  // A stream the server refused (too many pages open, a session that ended) is not
  // retried by the browser; one that ended normally is, and stays CONNECTING.
  es.addEventListener("error", function () {
    if (es.readyState === EventSource.CLOSED) { tell("This page no longer updates by itself.", "Reload it"); }
  });
})();

// Move focus to an error summary, so screen reader and keyboard users hear it first.
(function () {
  var s = document.querySelector("[data-focus]");
  if (s) { s.focus(); }
})();

// Reflection drafts save themselves every few seconds while the author types. A draft
// the patient-identifier guard stops is sent (the guard runs on the server), refused
// and stored nowhere: not in Huddle, and not on this device either, because ward
// computers are shared and the next person must not find it. It stays only in the
// open page until the author edits the patient details out. Once the form is sent,
// autosave stops for good: a save racing the submit must not create a second draft.
// Without this script the form's "Save draft" button does the same job.
(function () {
  // Copies an earlier Huddle kept on the device (by page address, not by person) are
  // removed wherever this script runs.
  try {
    for (var i = window.localStorage.length - 1; i >= 0; i--) {
      var k = window.localStorage.key(i);
      if (k && k.indexOf("huddle-reflection:") === 0) { window.localStorage.removeItem(k); }
    }
  } catch (e) { /* storage unavailable: nothing kept */ }
  var form = document.querySelector("form[data-autosave]");
  if (!form || !window.fetch || !window.FormData) { return; }
  var status = document.getElementById("autosave-status");
  var idField = form.querySelector('input[name="id"]');
  var meta = document.querySelector('meta[name="huddle-session"]');
  var url = form.getAttribute("data-autosave");
  if (meta) { url += (url.indexOf("?") < 0 ? "?" : "&") + "hs=" + encodeURIComponent(meta.content); }
  function say(text) { if (status) { status.textContent = text; } }
  function fields() {
    var data = {};
    new FormData(form).forEach(function (v, k) { if (k !== "csrf" && k !== "hs") { data[k] = v; } });
    return data;
  }
  var last = JSON.stringify(fields());
  var busy = false;
  var submitted = false;
  function save() {
    var now = JSON.stringify(fields());
    if (submitted || busy || now === last) { return; }
    busy = true;
    var body = new URLSearchParams(new FormData(form));
    fetch(url, { method: "POST", credentials: "same-origin", body: body, headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
      .then(function (res) {
        last = now;
        if (submitted) { return; }
        if (res.ok) {
          if (res.j.id && !idField.value) {
            idField.value = res.j.id;
            // A reload now opens this draft, not an empty form (hs, if any, stays).
            if (res.j.edit && window.history.replaceState) { window.history.replaceState(null, "", res.j.edit + window.location.search); }
          }
          say("Draft saved " + new Date(res.j.saved_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) + ".");
        } else if (res.j.error && res.j.error.code === "already_submitted") {
          // The server refused a save of a form already submitted: stop for good.
          submitted = true;
          say(res.j.error.message);
        } else if (res.j.error && res.j.error.code === "patient_identifiers") {
          say(res.j.error.message + " This version is kept nowhere, not in Huddle and not on this device: it is only in this page until you take the patient details out.");
        } else {
          say((res.j.error && res.j.error.message) || "Draft not saved. Use Save draft.");
        }
      })
      .catch(function () { say("Could not reach Huddle; your draft will be saved when the connection is back."); })
      .then(function () { busy = false; });
  }
  window.setInterval(save, 5000);
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") { save(); } });
  form.addEventListener("submit", function () { submitted = true; });
})();
