// The overview: draws the page's embedded JSON, then polls /console/api/overview every 5 s and
// updates the charts and tables in place. Text is only ever set as text, never as markup.
(function () {
  "use strict";

  const POLL_MS = 5000;
  const PALETTE = ["#2f5bd3", "#0e9384", "#b54708", "#7a5af8", "#c11574", "#067647",
    "#dc6803", "#475467", "#98a2b3"];
  const OUTCOME_COLOURS = { sent: "#067647", scheduled: "#2f5bd3", failed: "#b42318",
    cancelled: "#98a2b3" };
  const SUPPRESSED_COLOURS = ["#f79009", "#c4320a", "#7a2e0e", "#fec84b", "#e478fa", "#93370d"];

  const utc = (options) => new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", ...options });
  const clock = utc({ hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const hourMinute = utc({ hour: "2-digit", minute: "2-digit" });
  const dayHour = utc({ weekday: "short", hour: "2-digit", minute: "2-digit" });
  const number = new Intl.NumberFormat("en-GB");
  // On a phone's narrow chart, fewer.
  const labelCharacters = (chart) => (chart.width < 450 ? 18 : 30);

  function stamp(iso) {
    return iso ? clock.format(new Date(iso)) + " UTC" : "never";
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 1) return Math.round(seconds * 1000) + " ms";
    if (seconds < 120) return seconds.toFixed(1) + " s";
    if (seconds < 7200) return Math.round(seconds / 60) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }

  function cell(text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  // A name like INSUFFICIENT_FUNDS_EMAIL may wrap after each underscore, not mid-word.
  function nameCell(name) {
    const td = document.createElement("td");
    td.className = "name";
    name.split(/(?<=_)/).forEach((part, index) => {
      if (index) td.append(document.createElement("wbr"));
      td.append(part);
    });
    return td;
  }

  // Long names are cut on the axis (the tooltip and the table have them whole).
  function shortened(name, most) {
    return name.length > most ? name.slice(0, most - 1) + "…" : name;
  }

  function rows(tbody, items, build) {
    tbody.replaceChildren(...items.map((item) => {
      const tr = document.createElement("tr");
      build(tr, item);
      return tr;
    }));
  }

  function total(id, value) {
    const element = document.getElementById(id);
    element.textContent = number.format(value);
    element.dataset.total = String(value);
  }

  // Bars up, or along (`horizontal`) when the labels are long names: rules.
  function chart(id, stacked, horizontal) {
    const canvas = document.getElementById(id);
    const counts = { stacked: stacked, beginAtZero: true, ticks: { precision: 0 } };
    const labels = { stacked: stacked, ticks: { autoSkip: !horizontal, maxRotation: 0 } };
    if (horizontal) {
      labels.ticks.callback = function (value) {
        return shortened(this.getLabelForValue(value), labelCharacters(this.chart));
      };
    }
    return new window.Chart(canvas, {
      type: "bar",
      data: { labels: [], datasets: [] },
      options: {
        indexAxis: horizontal ? "y" : "x",
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        // Stacked charts name their series in a list under the canvas (legend()).
        plugins: { legend: { display: false } },
        scales: horizontal ? { x: counts, y: labels } : { x: labels, y: counts },
      },
    });
  }

  // The legend of a stacked chart, as a list under it: every series named, whatever their
  // number and length (CSS cuts a long name short; its title holds it whole).
  function legend(id, datasets) {
    const list = document.getElementById(id);
    list.replaceChildren(...datasets.map((dataset) => {
      const item = document.createElement("li");
      item.title = dataset.label;
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = dataset.backgroundColor;
      const label = document.createElement("span");
      label.className = "label";
      label.textContent = dataset.label;
      item.append(swatch, label);
      return item;
    }));
  }

  // A chart with nothing in the range says so over its bare axes.
  function sayIfEmpty(chart, empty) {
    chart.canvas.parentElement.querySelector(".no-data").hidden = !empty;
  }

  function outcomeColour(outcome, suppressedSeen) {
    if (OUTCOME_COLOURS[outcome]) return OUTCOME_COLOURS[outcome];
    if (!suppressedSeen.has(outcome)) suppressedSeen.set(outcome, suppressedSeen.size);
    return SUPPRESSED_COLOURS[suppressedSeen.get(outcome) % SUPPRESSED_COLOURS.length];
  }

  function drawEvents(charts, events) {
    const format = events.bucket_size === "minute" ? hourMinute
      : (events.starts.length > 24 ? dayHour : hourMinute);
    charts.events.data.labels = events.starts.map((start) => format.format(new Date(start)));
    charts.events.data.datasets = events.series.map((series, index) => ({
      label: series.event_type,
      data: series.counts,
      backgroundColor: PALETTE[index % PALETTE.length],
    }));
    charts.events.update();
    legend("events-legend", charts.events.data.datasets);
    sayIfEmpty(charts.events, events.total === 0);
    total("events-total", events.total);
    rows(document.getElementById("events-table"), events.series, (tr, series) => {
      tr.dataset.eventType = series.event_type;
      tr.append(nameCell(series.event_type), cell(number.format(series.total), "num"));
    });
  }

  function drawAlerts(charts, alerts) {
    charts.alerts.data.labels = alerts.codes.map((code) => String(code.code));
    charts.alerts.data.datasets = [{
      label: "alerts",
      data: alerts.codes.map((code) => code.count),
      backgroundColor: "#b42318",
      maxBarThickness: 64,
    }];
    charts.alerts.update();
    sayIfEmpty(charts.alerts, alerts.total === 0);
    total("alerts-total", alerts.total);
    rows(document.getElementById("alerts-table"), alerts.codes, (tr, code) => {
      tr.dataset.code = String(code.code);
      tr.append(cell(String(code.code)), cell(number.format(code.count), "num"));
    });
  }

  function drawNotifications(charts, notifications) {
    const outcomes = [...new Set(notifications.rules.flatMap((rule) => Object.keys(rule.counts)))]
      .sort();
    const suppressedSeen = new Map();
    charts.notifications.data.labels = notifications.rules.map((rule) => rule.rule);
    charts.notifications.data.datasets = outcomes.map((outcome) => ({
      label: outcome,
      data: notifications.rules.map((rule) => rule.counts[outcome] || 0),
      backgroundColor: outcomeColour(outcome, suppressedSeen),
    }));
    charts.notifications.update();
    legend("notifications-legend", charts.notifications.data.datasets);
    sayIfEmpty(charts.notifications, notifications.total === 0);
    total("notifications-total", notifications.total);
    const pairs = notifications.rules.flatMap((rule) =>
      Object.entries(rule.counts).map(([outcome, count]) => ({ rule: rule.rule, outcome, count })));
    rows(document.getElementById("notifications-table"), pairs, (tr, pair) => {
      tr.dataset.rule = pair.rule;
      tr.dataset.outcome = pair.outcome;
      tr.append(nameCell(pair.rule), cell(pair.outcome), cell(number.format(pair.count), "num"));
    });
  }

  function drawOutbox(outbox) {
    rows(document.getElementById("consumers-table"), outbox.consumers, (tr, row) => {
      tr.dataset.consumer = row.consumer;
      tr.append(
        cell(row.consumer),
        cell((row.backlog_at_least ? "≥ " : "") + number.format(row.backlog), "num"),
        cell(duration(row.oldest_age_seconds), "num"),
        cell(duration(row.lag_seconds), "num"),
        cell(number.format(row.dead_lettered), row.dead_lettered ? "num error" : "num"),
        cell(row.last_shipped_at ? stamp(row.last_shipped_at) : "never"),
      );
    });
    const heartbeat = document.getElementById("heartbeat");
    const beat = outbox.heartbeat;
    heartbeat.textContent = beat
      ? `${beat.ok ? "ClickHouse ok" : "ClickHouse failing"}, ${duration(beat.age_seconds)} ago (${stamp(beat.checked_at)})`
      : "no worker has reported yet";
    heartbeat.className = beat && beat.ok ? "ok" : "error";
    const horizon = outbox.horizon;
    document.getElementById("horizon").textContent = horizon
      ? `held by session ${horizon.pid}` +
        (horizon.transaction_age_seconds === null ? "" : `, its transaction ${duration(horizon.transaction_age_seconds)} old`) +
        (horizon.state ? ` (${horizon.state})` : "")
      : "no open transaction holds it back";
  }

  function draw(charts, overview) {
    document.querySelectorAll("[data-field=tenant]").forEach((e) => { e.textContent = overview.tenant; });
    document.querySelectorAll("[data-field=range]").forEach((e) => { e.textContent = overview.range_label; });
    document.querySelectorAll("[data-field=bucket]").forEach((e) => { e.textContent = overview.events.bucket_size; });
    for (const part of ["events", "alerts", "notifications", "outbox"]) {
      const time = document.querySelector(`[data-as-of=${part}]`);
      time.dateTime = overview[part].as_of;
      time.textContent = stamp(overview[part].as_of);
    }
    const generated = document.getElementById("generated-at");
    generated.dateTime = overview.generated_at;
    generated.textContent = stamp(overview.generated_at);
    drawEvents(charts, overview.events);
    drawAlerts(charts, overview.alerts);
    drawNotifications(charts, overview.notifications);
    drawOutbox(overview.outbox);
  }

  async function poll(charts, query) {
    const problem = document.getElementById("poll-error");
    try {
      const response = await fetch(`/console/api/overview?${query}`, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (response.status === 403) {
        window.location.assign(`/console/login/?next=${encodeURIComponent(window.location.pathname + window.location.search)}`);
        return;
      }
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      draw(charts, await response.json());
      problem.textContent = "";
    } catch (error) {
      problem.textContent = `(not updated: ${error.message})`;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const overview = JSON.parse(document.getElementById("overview-data").textContent);
    const tenant = document.getElementById("tenant");
    // A tenant chosen keeps the range: both stay in the query string.
    tenant.addEventListener("change", () => {
      const chosen = new URLSearchParams({ tenant: tenant.value, range: overview.range });
      window.location.assign(`?${chosen}`);
    });
    const charts = {
      events: chart("events-chart", true, false),
      alerts: chart("alerts-chart", false, false),
      notifications: chart("notifications-chart", true, true),
    };
    draw(charts, overview);
    const query = new URLSearchParams({ tenant: overview.tenant, range: overview.range });
    // The next poll is set when this one ends: a slow answer never has two in flight.
    const next = () => window.setTimeout(() => poll(charts, query).then(next), POLL_MS);
    next();
  });
})();
