// algocenter dashboard: refreshes the live part of an instance page (progress bars, charts, serving generation)
// from the server, keeps the chosen metric across refreshes, and asks before cancelling. No framework.
(function () {
  "use strict";
  var chosen = null;

  function showMetric() {
    var select = document.getElementById("metric");
    if (!select) return;
    if (chosen !== null && Array.prototype.some.call(select.options, function (o) { return o.value === chosen; })) {
      select.value = chosen;
    }
    document.querySelectorAll("figure[data-metric]").forEach(function (figure) {
      figure.hidden = figure.getAttribute("data-metric") !== select.value;
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target && event.target.id === "metric") {
      chosen = event.target.value;
      showMetric();
    }
  });

  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", function () {
    showMetric();
    var live = document.getElementById("live");
    if (!live) return;

    function delay() { return live.getAttribute("data-active") === "true" ? 1000 : 5000; }

    function refresh() {
      fetch(live.getAttribute("data-src"), { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (response.redirected && new URL(response.url).pathname === "/ui/login") {
            window.location.href = response.url;
            return null;
          }
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (html !== null) {
            var holder = document.createElement("div");
            holder.innerHTML = html;
            var fresh = holder.querySelector("#live");
            if (fresh) {
              live.innerHTML = fresh.innerHTML;
              live.setAttribute("data-active", fresh.getAttribute("data-active"));
              showMetric();
            }
          }
          setTimeout(refresh, delay());
        })
        .catch(function () { setTimeout(refresh, 5000); });
    }
    setTimeout(refresh, delay());
  });
})();
