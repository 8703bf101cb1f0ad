// The import form's size check: the server refuses bodies over 1 MB by closing the
// connection, which a browser shows as a network error. Checking the chosen file
// here says why instead. Without the script the server's check still holds.
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
