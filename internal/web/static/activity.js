// CSV export with progress: the file is fetched as a stream, rows and bytes are counted as
// they arrive (a million rows take a while), then saved under the server's file name.
(function () {
  "use strict";
  var link = document.getElementById("export-link");
  var out = document.getElementById("export-progress");
  if (!link || !out || !window.fetch || !window.ReadableStream) return;
  link.addEventListener("click", function (ev) {
    ev.preventDefault();
    if (link.getAttribute("aria-busy") === "true") return;
    link.setAttribute("aria-busy", "true");
    var rows = 0, bytes = 0, parts = [], name = "okpay-activity.csv";
    var show = function (extra) {
      out.textContent = Math.max(rows - 1, 0).toLocaleString() + " " + link.dataset.rows + " · " + (bytes / 1024).toFixed(0) + " KB" + (extra ? " · " + extra : "");
    };
    fetch(link.href, { credentials: "same-origin" }).then(function (res) {
      if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
      var m = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "");
      if (m) name = m[1];
      var reader = res.body.getReader();
      var pump = function () {
        return reader.read().then(function (r) {
          if (r.done) return;
          parts.push(r.value);
          bytes += r.value.length;
          for (var i = 0; i < r.value.length; i++) if (r.value[i] === 10) rows++;
          show();
          return pump();
        });
      };
      return pump();
    }).then(function () {
      show(link.dataset.done);
      out.dataset.rows = String(Math.max(rows - 1, 0));
      var url = URL.createObjectURL(new Blob(parts, { type: "text/csv;charset=utf-8" }));
      var a = document.createElement("a");
      a.href = url; a.download = name; document.body.appendChild(a); a.click(); a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    }).catch(function () {
      out.textContent = link.dataset.failed;
    }).finally(function () {
      link.removeAttribute("aria-busy");
    });
  });
})();
