// The dashboard's refresh and charts. No inline script (the page's CSP allows only this
// origin's files); the chart library (uPlot) is served by the worker from static/vendor/.
(function () {
  "use strict";
  var body = document.body;
  var panelsUrl = body.getAttribute("data-panels");
  var everyMs = Math.max(2, Number(body.getAttribute("data-refresh-s") || 5)) * 1000;
  var charts = {};
  var COLORS = { opt_out: "#c0392b", opt_in: "#1e8449" };

  function status(text, bad) {
    var el = document.getElementById("refresh-status");
    if (el) {
      el.textContent = text;
      el.className = bad ? "error" : "";
    }
  }

  function chartData() {
    var el = document.getElementById("chart-data");
    if (!el) return null;
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  function total(values) {
    var n = 0;
    for (var i = 0; i < values.length; i++) n += values[i] || 0;
    return n;
  }

  function draw(el, series) {
    var name = el.getAttribute("data-series");
    if (typeof window.uPlot === "undefined") {
      el.textContent = "Charts not available: the chart library is not installed on this worker (make install).";
      el.className = "chart na";
      return;
    }
    if (!series || !series.t || !series.t.length) {
      el.setAttribute("data-points", "0");
      if (!charts[name]) el.textContent = "No rate series yet.";
      return;
    }
    var data = [series.t, series.opt_out, series.opt_in];
    el.setAttribute("data-points", String(series.t.length));
    el.setAttribute("data-total", String(total(series.opt_out) + total(series.opt_in)));
    if (charts[name]) {
      charts[name].setData(data);
      return;
    }
    el.textContent = "";
    var opts = {
      width: Math.max(300, el.clientWidth || 600),
      height: 220,
      scales: { x: { time: true } },
      series: [
        {},
        { label: "opt-outs", stroke: COLORS.opt_out, width: 2, fill: "rgba(192,57,43,0.10)" },
        { label: "opt-ins", stroke: COLORS.opt_in, width: 2 }
      ],
      axes: [{}, { label: name === "hour" ? "per hour" : "per minute" }]
    };
    charts[name] = new window.uPlot(opts, data, el);
  }

  function render() {
    var model = chartData();
    var series = model && model.series && model.series.available ? model.series : {};
    var els = document.querySelectorAll(".chart[data-series]");
    for (var i = 0; i < els.length; i++) draw(els[i], series[els[i].getAttribute("data-series")]);
  }

  function refresh() {
    if (!panelsUrl) return;
    fetch(panelsUrl, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "text/html" } })
      .then(function (resp) {
        if (resp.status === 401 || resp.status === 403) {
          window.location.reload();  // signed out, or the token changed: the sign-in form
          return null;
        }
        if (!resp.ok) throw new Error("status " + resp.status);
        return resp.text();
      })
      .then(function (text) {
        if (text === null) return;
        document.getElementById("panels").innerHTML = text;
        render();
        status("as of " + new Date().toLocaleTimeString());
      })
      .catch(function () { status("refresh failed at " + new Date().toLocaleTimeString() + "; retrying", true); });
  }

  window.addEventListener("resize", function () {
    for (var name in charts) {
      var el = document.querySelector('.chart[data-series="' + name + '"]');
      if (el) charts[name].setSize({ width: Math.max(300, el.clientWidth), height: 220 });
    }
  });

  function start() {
    render();
    window.setInterval(refresh, everyMs);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
