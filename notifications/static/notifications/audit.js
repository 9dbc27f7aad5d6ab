// The audit page: draw the audit JSON, then poll it and redraw when it changes.
// Every value is written with textContent, never as markup: event properties and traits
// come from clients.
(function () {
  "use strict";

  function cell(text, className) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (className) {
      td.className = className;
    }
    return td;
  }

  // "2025-10-31T19:30:00.123456Z" as "2025-10-31 19:30:00 UTC": every time on the page is
  // UTC, 24-hour, as the JSON and the decisions' reasons give it.
  function utcText(iso) {
    return iso ? iso.replace("T", " ").replace(/\.[0-9]+/, "").replace(/Z$/, " UTC") : "";
  }

  // An id (an `h:<sha256>` event id is 66 characters) on one line, cut short by the style
  // with its whole text kept, in its title too, and a button that copies it.
  function idCell(id) {
    var td = document.createElement("td");
    if (id === null || id === undefined || id === "") {
      return td;
    }
    var text = document.createElement("span");
    text.className = "id";
    text.textContent = String(id);
    text.title = String(id);
    var copy = document.createElement("button");
    copy.type = "button";
    copy.className = "copy";
    copy.textContent = "copy";
    copy.setAttribute("aria-label", "Copy " + String(id));
    copy.addEventListener("click", function () {
      copyText(String(id)).then(
        function () {
          copy.textContent = "copied";
        },
        function () {
          copy.textContent = "select and copy";
        }
      );
    });
    td.className = "with-id";
    td.appendChild(text);
    td.appendChild(copy);
    return td;
  }

  // The clipboard API needs a secure context (https or localhost); elsewhere the id's title
  // still holds it.
  function copyText(text) {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      return navigator.clipboard.writeText(text);
    }
    return Promise.reject(new Error("no clipboard"));
  }

  function timeCell(iso) {
    return cell(utcText(iso), "time");
  }

  function codeCell(value) {
    var td = document.createElement("td");
    var pre = document.createElement("pre");
    pre.textContent = jsonText(value);
    td.appendChild(pre);
    return td;
  }

  // JSON as the API accepts it back: JSON.stringify writes a number under 1e-6 or from 1e21
  // with an exponent (1e-7), which the API refuses. Each such number goes through as a string
  // marked by a NUL (which no stored string holds: the API refuses it) and is unquoted after.
  function jsonText(value) {
    var marked = JSON.stringify(value, function (key, item) {
      return typeof item === "number" && String(item).indexOf("e") >= 0
        ? "\u0000" + positional(String(item))
        : item;
    }, 1);
    return marked.replace(/"\\u0000([-0-9.]+)"/g, "$1");
  }

  // An exponent form String(number) writes ("-1.5e-7", "1.2e+21") positionally, the same
  // digits: its point is either before all of them (e-) or after all of them (e+, 21 or more).
  function positional(text) {
    var parts = /^(-?)([0-9])(?:\.([0-9]+))?e([-+][0-9]+)$/.exec(text);
    var digits = parts[2] + (parts[3] || "");
    var point = 1 + Number(parts[4]);
    return point <= 0
      ? parts[1] + "0." + "0".repeat(-point) + digits
      : parts[1] + digits + "0".repeat(point - digits.length);
  }

  function statusCell(status, reason) {
    var td = document.createElement("td");
    var badge = document.createElement("span");
    var shown = window.decisionStatus(status);
    badge.className = "status " + shown.className;
    badge.textContent = shown.label;
    td.appendChild(badge);
    if (reason) {
      var text = document.createElement("span");
      text.className = "reason";
      text.textContent = reason;
      td.appendChild(text);
    }
    return td;
  }

  function row(cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (td) {
      tr.appendChild(td);
    });
    return tr;
  }

  function fill(id, items, columns, toRow) {
    var tbody = document.getElementById(id);
    var rows = items.map(toRow);
    if (rows.length === 0) {
      var empty = cell("none", "empty");
      empty.colSpan = columns;
      rows = [row([empty])];
    }
    tbody.replaceChildren.apply(tbody, rows);
  }

  function render(audit) {
    document.getElementById("user-id").textContent = audit.user_id;
    document.getElementById("user-pk").textContent = audit.id;
    fill("traits", Object.keys(audit.traits).sort(), 2, function (name) {
      var value = audit.traits[name];
      return row([cell(name), typeof value === "string" ? cell(value) : codeCell(value)]);
    });
    fill("decisions", audit.decisions, 6, function (d) {
      return row([
        timeCell(d.created_at),
        statusCell(d.status, d.reason),
        cell(d.notification_type),
        cell(d.rule),
        cell("v" + d.rules_version),
        idCell(d.trigger_event),
      ]);
    });
    fill("notification-history", audit.notification_history, 7, function (n) {
      return row([
        timeCell(n.created_at),
        statusCell(n.status, n.suppression_reason),
        cell(n.notification_type),
        cell(n.channel),
        cell("v" + n.rules_version),
        idCell(n.trigger_event),
        timeCell(n.sent_at),
      ]);
    });
    fill("recent-events", audit.recent_events, 4, function (e) {
      return row([timeCell(e.event_timestamp), cell(e.event_type), idCell(e.event_id), codeCell(e.properties)]);
    });
  }

  function showStatus(text, stale) {
    var node = document.getElementById("live-status");
    node.textContent = text;
    node.className = stale ? "stale" : "";
  }

  var interval = Number(document.body.dataset.pollIntervalMs) || 1000;
  var lastBody = document.getElementById("audit-data").textContent;
  render(JSON.parse(lastBody));
  showStatus("live, updated " + utcText(new Date().toISOString()), false);

  // The page's own URL, its limit included, always answered as JSON.
  var jsonUrl = new URL(window.location.href);
  jsonUrl.searchParams.set("format", "json");

  // A poll starts `interval` after the previous one started (or as soon as it ends, when it
  // took longer), so a change shows within about one interval plus one request.
  function poll() {
    var started = Date.now();
    fetch(jsonUrl, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
    })
      .then(function (response) {
        return response.text().then(function (body) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          if (body !== lastBody) {
            render(JSON.parse(body));
            lastBody = body;
          }
          showStatus("live, updated " + utcText(new Date().toISOString()), false);
        });
      })
      .catch(function (error) {
        showStatus("not updating (" + error.message + "); retrying", true);
      })
      .then(function () {
        window.setTimeout(poll, Math.max(0, interval - (Date.now() - started)));
      });
  }

  window.setTimeout(poll, interval);
})();
