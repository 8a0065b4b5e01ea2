// A withdrawal's status page reloads itself while the bank works on it.
(function () {
  "use strict";
  var el = document.querySelector("[data-refresh]");
  if (!el) return;
  var s = parseInt(el.getAttribute("data-refresh"), 10);
  if (s > 0) setTimeout(function () { location.reload(); }, s * 1000);
})();
