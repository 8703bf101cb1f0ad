// Development Moodle's only script. Submits forms marked data-autosubmit (the login
// initiation and the id_token form_post), as Moodle's launch.php and auth.php do; without
// JavaScript their buttons do the same. A link marked data-top-redirect takes the whole
// window (not just the iframe) back to the course after data-delay milliseconds.
document.querySelectorAll("form[data-autosubmit]").forEach(function (f) { f.submit(); });
document.querySelectorAll("a[data-top-redirect]").forEach(function (a) {
  setTimeout(function () { window.top.location.href = a.href; }, Number(a.dataset.delay || 0));
});
