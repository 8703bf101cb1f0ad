// Keeps a cookieless frame's session (see web/urlsession.go) on Huddle's own links and
// forms: the session id from the page's meta tag is added as the hs parameter.
(function () {
  var meta = document.querySelector('meta[name="huddle-session"]');
  if (!meta) { return; }
  var sid = meta.content;
  document.querySelectorAll('a[href^="/"]').forEach(function (a) {
    var u = new URL(a.getAttribute("href"), window.location.origin);
    u.searchParams.set("hs", sid);
    a.setAttribute("href", u.pathname + u.search + u.hash);
  });
  document.querySelectorAll("form").forEach(function (f) {
    if (f.getAttribute("action") && f.getAttribute("action").charAt(0) !== "/") { return; }
    var i = document.createElement("input");
    i.type = "hidden"; i.name = "hs"; i.value = sid;
    f.appendChild(i);
  });
})();
