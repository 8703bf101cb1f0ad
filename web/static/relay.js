// Deep Linking from a frame that keeps no cookies (Moodle 4.5 offers no platform
// storage). The educator chooses in a new window; Moodle fills its "Add an activity"
// form only when its return page is posted inside this dialog frame, so this frame
// asks Huddle for the answer and posts it to Moodle itself. Without JavaScript the new
// window works for activities but cannot add content.
(function () {
  var box = document.getElementById("relay");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-relay");
  var platform = box.getAttribute("data-platform");
  var shown = function (id) {
    ["relay-picking", "relay-sending", "relay-failed"].forEach(function (x) {
      document.getElementById(x).hidden = x !== id;
    });
  };
  var delay = 1500;
  var poll = function () {
    fetch(url, { credentials: "omit", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (j) {
        if (j.state === "closed") { return; }  // an activity opened, not Deep Linking
        if (j.state === "picking") { shown("relay-picking"); }
        if (j.state !== "ready") { window.setTimeout(poll, delay); return; }
        // Only to the platform this frame belongs to.
        if (new URL(j.return_url).origin !== platform) { shown("relay-failed"); return; }
        shown("relay-sending");
        var f = document.createElement("form");
        f.method = "post";
        f.action = j.return_url;
        var input = document.createElement("input");
        input.type = "hidden";
        input.name = j.field;
        input.value = j.jwt;
        f.appendChild(input);
        document.body.appendChild(f);
        f.submit();
      })
      .catch(function () { shown("relay-failed"); });
  };
  window.setTimeout(poll, delay);
})();
