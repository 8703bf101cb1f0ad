// Submits forms marked data-autosubmit (the deep-linking return to Moodle). Without
// JavaScript the form's own button does the same.
document.querySelectorAll("form[data-autosubmit]").forEach(function (f) { f.submit(); });
