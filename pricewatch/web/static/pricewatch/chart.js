/* Price-history charts with uPlot.
 *
 * <div data-price-chart data-url="/items/1/chart" data-range="30d"> loads
 * {currency, t: [unix seconds], series: [{label, values}], first, lowest, highest}
 * from `data-url?range=...` and draws one line per shop plus dashed first / lowest / highest
 * lines. Buttons with [data-range] inside the same [data-chart-box] switch the range.
 */
(function () {
  "use strict";

  var COLOURS = ["#1f5fbf", "#b35c00", "#6b3fa0", "#00796b", "#c2185b", "#546e7a"];

  function money(currency) {
    var format;
    try {
      format = new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "EUR" });
    } catch (e) {
      format = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2 });
    }
    return function (value) {
      return value == null ? "–" : format.format(value);
    };
  }

  function constant(length, value) {
    var out = new Array(length);
    for (var i = 0; i < length; i++) out[i] = value;
    return out;
  }

  function draw(box, el, data) {
    if (el._plot) {
      el._plot.destroy();
      el._plot = null;
    }
    var empty = box.querySelector("[data-chart-empty]");
    if (!data.t.length) {
      if (empty) empty.hidden = false;
      el.hidden = true;
      return;
    }
    if (empty) empty.hidden = true;
    el.hidden = false;
    var fmt = money(data.currency);
    var columns = [data.t];
    var series = [{ label: "Date" }];
    data.series.forEach(function (s, index) {
      columns.push(s.values.map(function (v) { return v == null ? null : Number(v); }));
      series.push({
        label: s.label,
        stroke: COLOURS[index % COLOURS.length],
        width: 2,
        spanGaps: true,
        value: function (u, v) { return fmt(v); },
      });
    });
    [["First", data.first, "#5b6475"], ["Lowest", data.lowest, "#137333"],
     ["Highest", data.highest, "#b3261e"]].forEach(function (line) {
      if (line[1] == null) return;
      columns.push(constant(data.t.length, Number(line[1])));
      series.push({
        label: line[0],
        stroke: line[2],
        width: 1,
        dash: [6, 4],
        points: { show: false },
        value: function (u, v) { return fmt(v); },
      });
    });
    var options = {
      width: Math.max(el.clientWidth, 280),
      height: 300,
      series: series,
      axes: [{}, { size: 80, values: function (u, values) { return values.map(fmt); } }],
      scales: {
        x: {
          time: true,
          // Points seconds apart (a product just added) would otherwise be padded by uPlot
          // into an axis years long: show at least an hour around them.
          range: function (u, min, max) {
            var times = u.data[0];
            var first = times[0];
            var last = times[times.length - 1];
            return last - first < 3600 ? [first - 1800, last + 1800] : [min, max];
          },
        },
      },
      cursor: { drag: { x: true, y: false } },
    };
    el._plot = new uPlot(options, columns, el);
  }

  function load(box, range) {
    var el = box.querySelector("[data-price-chart]");
    var url = el.getAttribute("data-url") + "?range=" + encodeURIComponent(range);
    box.setAttribute("aria-busy", "true");
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) { draw(box, el, data); })
      .catch(function () {
        var problem = box.querySelector("[data-chart-error]");
        if (problem) problem.hidden = false;
      })
      .finally(function () { box.removeAttribute("aria-busy"); });
    box.querySelectorAll("[data-range]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-range") === range));
    });
  }

  function init(root) {
    root.querySelectorAll("[data-chart-box]").forEach(function (box) {
      if (box._chartReady) return;
      box._chartReady = true;
      var el = box.querySelector("[data-price-chart]");
      box.querySelectorAll("[data-range]").forEach(function (button) {
        button.addEventListener("click", function () { load(box, button.getAttribute("data-range")); });
      });
      load(box, el.getAttribute("data-range") || "30d");
      if (window.ResizeObserver) {
        new ResizeObserver(function () {
          if (el._plot) el._plot.setSize({ width: Math.max(el.clientWidth, 280), height: 300 });
        }).observe(el);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (event) { init(event.target); });
})();
