// The people page: a user's alerts and notification decisions on one timeline, polled.
// Every value is written with textContent, never as markup: ids and reasons come from clients.
(function () {
  "use strict";

  var live = window.consoleLive;
  var card = document.getElementById("person");
  var tbody = document.getElementById("timeline");

  function badge(text, className) {
    var span = document.createElement("span");
    span.className = "badge " + className;
    span.textContent = text;
    return span;
  }

  function whatCell(entry) {
    if (entry.kind === "alert") {
      var td = live.cell("", "", "what");
      td.appendChild(badge("alert " + entry.code, "badge-alert"));
      return td;
    }
    var what = live.cell("", "", "what");
    what.appendChild(badge("notification", "badge-notification"));
    var name = document.createElement("span");
    name.className = "type-name";
    name.textContent = " " + entry.notification_type;
    name.title = "rule " + entry.rule;
    what.appendChild(name);
    return what;
  }

  function decisionCell(entry) {
    if (entry.kind === "alert") {
      return live.cell("raised on " + entry.event_type + " (tenant " + entry.tenant_id + ")", "hint", "decision");
    }
    var td = live.cell("", "break", "decision");
    var shown = window.decisionStatus(entry.status);
    td.appendChild(badge(shown.label, shown.className));
    var reason = document.createElement("span");
    reason.className = "reason";
    reason.textContent = " " + entry.reason;
    td.appendChild(reason);
    return td;
  }

  function eventCell(id) {
    var td = live.cell("", "", "event");
    var span = document.createElement("span");
    span.className = "mono cut";
    span.textContent = id;
    span.title = id;
    td.appendChild(span);
    return td;
  }

  function render(body, isFirstPage) {
    var rows = body.entries.map(function (entry) {
      var tr = document.createElement("tr");
      tr.className = "entry-" + entry.kind;
      [
        live.cell(live.utcText(entry.at), "time", "at"),
        whatCell(entry),
        decisionCell(entry),
        live.cell("v" + entry.rules_version, "", "rules"),
        eventCell(entry.event_id),
      ].forEach(function (td) {
        tr.appendChild(td);
      });
      return tr;
    });
    if (rows.length === 0) {
      rows = [live.emptyRow(isFirstPage ? "no alerts or notifications yet" : "nothing older", 5)];
    }
    tbody.replaceChildren.apply(tbody, rows);
  }

  live.pagedPoll({
    url: card.dataset.timelineUrl,
    interval: Number(card.dataset.pollIntervalMs) || 5000,
    render: render,
  });
})();
