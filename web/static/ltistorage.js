// LTI Client Side postMessages: keeps the sign-in's browser binding in the platform's
// storage frame (lti.put_data) when this frame keeps no cookies, and reads it back at
// launch (lti.get_data). Messages go only to, and are accepted only from, the
// platform's origin.
(function () {
  var el = document.querySelector("[data-lti-storage]");
  if (!el) { return; }
  var d = el.dataset;
  var target = d.target === "_parent" ? window.parent : (window.parent.frames[d.target] || window.parent);
  var id = "huddle-" + Math.random().toString(36).slice(2);
  var done = false;
  window.addEventListener("message", function (ev) {
    var m = ev.data || {};
    if (ev.origin !== d.origin || m.message_id !== id || m.error) { return; }
    if (d.mode === "put" && m.subject === "lti.put_data.response") {
      done = true;
      window.location.assign(d.next);
    }
    if (d.mode === "get" && m.subject === "lti.get_data.response" && m.value) {
      done = true;
      var f = document.getElementById("storage-launch");
      f.elements.lti_storage_browser.value = m.value;
      f.submit();
    }
  });
  var msg = { subject: d.mode === "put" ? "lti.put_data" : "lti.get_data", message_id: id, key: d.key };
  if (d.mode === "put") { msg.value = d.value; }
  target.postMessage(msg, d.origin);
  setTimeout(function () {
    if (!done) { document.getElementById("storage-failed").hidden = false; }
  }, 4000);
})();
