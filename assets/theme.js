// Light or dark: the system's choice (prefers-color-scheme) unless this browser picked one
// with the navbar's toggle. Applied before the first paint, kept in localStorage.
(function () {
  var KEY = "celery-scope-theme";
  var root = document.documentElement;
  var saved = null;
  try { saved = window.localStorage.getItem(KEY); } catch (e) { saved = null; }
  if (saved === "light" || saved === "dark") { root.dataset.theme = saved; }

  function current() {
    if (root.dataset.theme) { return root.dataset.theme; }
    return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest("#theme-toggle")) { return; }
    var next = current() === "dark" ? "light" : "dark";
    root.dataset.theme = next;
    try { window.localStorage.setItem(KEY, next); } catch (e) { /* private mode */ }
  });
})();
