// Development Moodle's only script. Submits forms marked data-autosubmit (the login
// initiation and the id_token form_post), as Moodle's launch.php and auth.php do; without
// JavaScript their buttons do the same. A link marked data-top-redirect takes the whole
// window (not just the iframe) back to the course after data-delay milliseconds.
document.querySelectorAll("form[data-autosubmit]").forEach(function (f) { f.submit(); });
document.querySelectorAll("a[data-top-redirect]").forEach(function (a) {
  setTimeout(function () { window.top.location.href = a.href; }, Number(a.dataset.delay || 0));
});

// LTI Client Side postMessages, when the platform offers them: the course page keeps
// small values for the framed tool (lti.put_data) and hands them back (lti.get_data),
// answering only the tool's origin.
(function () {
  var el = document.querySelector("[data-lti-storage-for]");
  if (!el) { return; }
  var toolOrigin = el.dataset.ltiStorageFor;
  var store = {};
  window.addEventListener("message", function (ev) {
    var m = ev.data || {};
    if (ev.origin !== toolOrigin || typeof m.subject !== "string") { return; }
    var reply = { message_id: m.message_id, key: m.key };
    if (m.subject === "lti.put_data") {
      store[m.key] = m.value;
      reply.subject = "lti.put_data.response";
      reply.value = m.value;
    } else if (m.subject === "lti.get_data") {
      reply.subject = "lti.get_data.response";
      if (Object.prototype.hasOwnProperty.call(store, m.key)) {
        reply.value = store[m.key];
      } else {
        reply.error = { code: "key_not_found", message: "No value for that key" };
      }
    } else {
      return;
    }
    ev.source.postMessage(reply, ev.origin);
  });
})();
