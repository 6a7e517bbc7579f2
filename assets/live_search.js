// Search as you type, without losing keys. A dcc.Input with a numeric debounce writes its
// value back into the box when its own debounced update lands, and a key typed in between
// is erased (seen on a busy machine). So the box reports only on Enter or leaving it, and
// this script sends what is typed, once typing pauses, to the dcc.Store named after the
// box (`<box id>-text`), which the page's callbacks read instead.
(function () {
  var PAUSE_MS = 300;
  var timers = {};

  document.addEventListener("input", function (event) {
    var box = event.target;
    if (!box || !box.id || !box.closest || !box.closest(".live-search")) { return; }
    clearTimeout(timers[box.id]);
    timers[box.id] = setTimeout(function () {
      delete timers[box.id];
      if (window.dash_clientside && window.dash_clientside.set_props) {
        window.dash_clientside.set_props(box.id + "-text", { data: box.value });
      }
    }, PAUSE_MS);
  }, true);
})();
