// Views and visitor-days per day with uPlot, from the {days, views, visitors} JSON on the page.
(function () {
  "use strict";
  document.querySelectorAll("[data-visit-chart]").forEach(function (box) {
    var source = document.getElementById(box.dataset.visitChart);
    if (!source || !window.uPlot) return;
    var data = JSON.parse(source.textContent);
    var times = data.days.map(function (day) { return Date.parse(day + "T00:00:00Z") / 1000; });
    new window.uPlot(
      {
        width: box.clientWidth || 640,
        height: 220,
        series: [
          {},
          { label: "Views", stroke: "#1f5fbf", width: 2 },
          { label: "Visitors", stroke: "#b35c00", width: 2 },
        ],
        axes: [{}, { label: "per day" }],
      },
      [times, data.views, data.visitors],
      box
    );
  });
})();
