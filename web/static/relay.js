// Deep Linking from a frame that keeps no cookies (Moodle 4.5 offers no platform
// storage). The educator chooses in a new window; Moodle fills its "Add an activity"
// form only when its return page is posted inside this dialog frame, so this frame
// asks Huddle for the answer and posts it to Moodle itself. Without JavaScript the new
// window works for activities but cannot add content.
//
// A relay may wait for an hour. The frame asks every 1.5 s at first, then less often
// the longer nothing changes, up to every 15 s: a dialog left open does not poll
// Huddle 2,800 times. It asks often again as soon as something happens: the state
// changes (the new window launched), or this page is shown again (the educator comes
// back to Moodle's tab after choosing), when it also asks at once.
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
  var first = 1500, most = 15000, growth = 1.5;
  var delay = first;
  var timer = 0;       // the next poll, if one is waiting
  var asking = false;  // a poll is on its way
  var done = false;    // the answer was posted, or nothing will come
  var last = "";       // the state the last answer gave
  var tries = 0;       // failed polls in a row
  var later = function () {
    timer = window.setTimeout(poll, delay);
    delay = Math.min(Math.round(delay * growth), most);
  };
  var stop = function (id) {
    done = true;
    if (id) { shown(id); }
  };
  var poll = function () {
    timer = 0;
    if (done || asking) { return; }
    asking = true;
    fetch(url, { credentials: "omit", headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (r) {
        // 404: the relay expired or another frame took over; nothing will come.
        if (r.status >= 400 && r.status < 500) { return { state: "gone" }; }
        if (!r.ok) { throw new Error(r.status); }
        return r.json();
      })
      .then(function (j) {
        asking = false;
        tries = 0;
        if (j.state === "gone") { stop("relay-failed"); return; }
        if (j.state === "closed") { stop(); return; }  // an activity opened, not Deep Linking
        if (j.state !== last) { delay = first; last = j.state; }
        if (j.state === "picking") { shown("relay-picking"); }
        if (j.state !== "ready") { later(); return; }
        // Only to the platform this frame belongs to.
        if (new URL(j.return_url).origin !== platform) { stop("relay-failed"); return; }
        stop("relay-sending");
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
      .catch(function () {
        // The network or Huddle failed for a moment (a restart, a lost connection):
        // try again a few times, as slowly as the waiting, before giving up.
        asking = false;
        tries++;
        if (tries > 5) { stop("relay-failed"); return; }
        later();
      });
  };
  document.addEventListener("visibilitychange", function () {
    if (done || document.visibilityState !== "visible") { return; }
    delay = first;
    if (asking) { return; }  // its answer schedules the next, at the first pace
    if (timer) { window.clearTimeout(timer); }
    poll();
  });
  later();
})();
