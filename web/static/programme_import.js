// The import form's size check: it says why before a large file is uploaded at all.
// Without the script the server reads up to 16 MB of an import and answers with the
// same message (web/limits.go); past that it closes the connection, which a browser
// shows as a network error, so this check is what explains a file that large.
(function () {
  var input = document.getElementById("file");
  var note = document.getElementById("file-too-large");
  if (!input || !note || !input.form) { return; }
  var max = parseInt(input.getAttribute("data-max-bytes"), 10);
  function tooLarge() {
    var f = input.files && input.files[0];
    var over = !!f && f.size > max;
    note.hidden = !over;
    return over;
  }
  input.addEventListener("change", tooLarge);
  input.form.addEventListener("submit", function (e) {
    if (tooLarge()) { e.preventDefault(); note.focus(); }
  });
})();
