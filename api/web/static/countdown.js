// The time left in a timed assessment, counted down in the page. The server enforces the end:
// this only tells the candidate, and closes the forms when the time is up.
(function () {
  "use strict";
  function start() {
    var clock = document.getElementById("countdown");
    if (!clock) { return; }
    var ends = Date.now() + 1000 * Number(clock.getAttribute("data-seconds-left"));
    function tick() {
      // Rounded up: the page never says the time is up before the server does.
      var left = Math.max(0, Math.ceil((ends - Date.now()) / 1000));
      if (left > 0) {
        clock.textContent = Math.floor(left / 60) + " min " + (left % 60) + " s left";
        return;
      }
      clock.textContent = "0 min 0 s left";
      window.clearInterval(timer);
      var notice = document.getElementById("time-up");
      if (notice) { notice.hidden = false; }
      document.querySelectorAll("form.closes-with-clock").forEach(function (form) {
        form.querySelectorAll("input, button").forEach(function (field) { field.disabled = true; });
      });
    }
    var timer = window.setInterval(tick, 1000);
    tick();
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
