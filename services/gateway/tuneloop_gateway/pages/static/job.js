// Refresh a running job's status, stage, progress and loss chart; reload once it has ended, or
// once a pause halted it or its resume freed it (the page then shows the other button).
(function () {
  "use strict";
  var root = document.getElementById("job");
  if (!root || root.dataset.active !== "true") { return; }
  var url = root.dataset.liveUrl;
  var INTERVAL_MS = 1000;

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value; }
  }

  function show(state) {
    var badge = document.querySelector("#job-status .badge");
    if (badge) { badge.textContent = state.status; badge.className = "badge " + state.status; }
    text("job-stage", state.stage || "–");
    var bar = document.getElementById("job-progress");
    if (bar) { bar.value = state.progress.percent; }
    text("job-progress-text", state.progress.current + " / " + state.progress.total +
      " (" + state.progress.percent + "%)");
    var chart = document.getElementById("loss-chart");
    // Server-rendered SVG of numbers only (pages/charts.py), from our own origin.
    if (chart && state.loss_chart !== null) {
      chart.innerHTML = state.loss_chart;
      chart.dataset.epochs = String(state.epochs);
    }
  }

  function appendEvents(events) {
    var body = document.getElementById("events-body");
    if (!body) { return; }
    events.forEach(function (e) {
      var row = document.createElement("tr");
      row.className = "event " + e.level;
      row.dataset.id = e.id;
      row.dataset.type = e.type;
      [e.when, e.level, e.type, e.message].forEach(function (value, i) {
        var cell = document.createElement("td");
        if (i === 1) { cell.className = "wide"; }  // the level: hidden on a narrow screen
        cell.textContent = value;  // text, never markup
        row.appendChild(cell);
      });
      body.appendChild(row);
    });
  }

  function lastEventId() {
    var rows = document.querySelectorAll("#events-body tr[data-id]");
    return rows.length ? rows[rows.length - 1].dataset.id : "";
  }

  function poll() {
    var after = lastEventId();
    var chart = document.getElementById("loss-chart");
    var query = "?epochs=" + encodeURIComponent(chart ? chart.dataset.epochs : "");
    if (after) { query += "&after=" + encodeURIComponent(after); }
    fetch(url + query, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (state) {
        show(state);
        appendEvents(state.events);
        var halted = root.dataset.halted === "true";
        if (state.active && state.halted === halted) { window.setTimeout(poll, INTERVAL_MS); }
        else { window.location.replace(window.location.pathname); }
      })
      .catch(function () { window.setTimeout(poll, INTERVAL_MS * 5); });
  }

  window.setTimeout(poll, INTERVAL_MS);
}());
