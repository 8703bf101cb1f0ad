// LTI Dynamic Registration: tell the platform the registration is complete so it
// closes its dialog (org.imsglobal.lti.close). Moodle then shows the tool as Pending.
// Only on the button: closed at once, the dialog took with it the page that tells the
// admin to activate Huddle.
(function () {
  function close() {
    var target = window.opener || window.parent;
    if (target && target !== window) {
      target.postMessage({ subject: "org.imsglobal.lti.close" }, "*");
    }
  }
  document.querySelectorAll("[data-lti-close]").forEach(function (b) { b.addEventListener("click", close); });
})();
