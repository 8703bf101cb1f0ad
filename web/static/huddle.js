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
