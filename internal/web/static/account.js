// Progressive enhancement for the account pages: a button with data-ready-at (Unix
// seconds) stays disabled until then and shows the seconds left. Without this script the
// server still refuses an early resend with a message saying when to try again.
(function () {
  "use strict";
  document.querySelectorAll("[data-ready-at]").forEach(function (btn) {
    var readyAt = parseInt(btn.getAttribute("data-ready-at"), 10) * 1000;
    var label = btn.textContent;
    var wait = btn.getAttribute("data-wait-label") || "";
    function tick() {
      var left = Math.ceil((readyAt - Date.now()) / 1000);
      if (left <= 0) {
        btn.disabled = false;
        btn.textContent = label;
        return;
      }
      btn.disabled = true;
      btn.textContent = wait.replace("{seconds}", String(left));
      setTimeout(tick, 1000);
    }
    tick();
  });
})();
