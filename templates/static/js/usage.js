// The Usage page's chart: messages out and in per day, drawn with the vendored uPlot.
(function () {
  "use strict";
  function draw() {
    var holder = document.getElementById("usage-chart");
    var source = document.getElementById("usage-chart-data");
    if (!holder || !source || typeof uPlot === "undefined") return;
    var data = JSON.parse(source.textContent);
    var xs = data.days.map(function (day) { return Date.parse(day + "T00:00:00Z") / 1000; });
    var options = {
      width: Math.max(320, holder.clientWidth),
      height: 240,
      scales: { x: { time: true } },
      series: [
        {},
        { label: "Out", stroke: "#128c7e", width: 2 },
        { label: "In", stroke: "#34b7f1", width: 2 },
      ],
    };
    holder.textContent = "";
    new uPlot(options, [xs, data.out, data["in"]], holder);
    holder.dataset.drawn = String(xs.length);
  }
  // Quota bars: <span data-percent="N">, sized here (the CSP allows no style attributes).
  function sizeBars() {
    document.querySelectorAll(".quota-bar [data-percent]").forEach(function (bar) {
      bar.style.width = Math.min(100, Math.max(0, Number(bar.dataset.percent) || 0)) + "%";
    });
  }
  document.addEventListener("DOMContentLoaded", sizeBars);
  document.addEventListener("DOMContentLoaded", draw);
})();
