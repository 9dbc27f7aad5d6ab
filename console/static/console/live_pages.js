// What the console's paged, live tables share: cells written as text, UTC times, and a
// poller of keyset pages (`?before=<cursor>`, the answer's `next_before` for the next one).
(function () {
  "use strict";

  function utcText(iso) {
    return iso ? new Date(iso).toISOString().replace("T", " ").replace(/\.[0-9]+Z$/, " UTC") : "";
  }

  // A cell holding `text` as text, never as markup; `label` names it on a phone.
  function cell(text, className, label) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (className) {
      td.className = className;
    }
    if (label) {
      td.dataset.label = label;
    }
    return td;
  }

  function emptyRow(text, columns) {
    var td = cell(text, "hint");
    td.colSpan = columns;
    var tr = document.createElement("tr");
    tr.appendChild(td);
    return tr;
  }

  // Poll `options.url` every `options.interval` ms, the page the Newer/Older buttons of
  // console/pager.html chose; `options.render(body, isFirstPage)` draws it. Returns { refresh }
  // to poll at once.
  function pagedPoll(options) {
    var newer = document.getElementById("page-newer");
    var older = document.getElementById("page-older");
    var cursors = [];
    var before = "";
    var nextBefore = null;
    var timer = null;
    var status = document.getElementById("live-status");

    function showStatus(text, stale) {
      status.textContent = text;
      status.classList.toggle("error", Boolean(stale));
    }

    function load() {
      var url = new URL(options.url, window.location.href);
      if (before) {
        url.searchParams.set("before", before);
      }
      return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (body) {
          options.render(body, before === "");
          nextBefore = body.next_before;
          older.disabled = nextBefore === null;
          newer.disabled = cursors.length === 0;
          showStatus("Live: as of " + utcText(body.as_of) + ", every " + options.interval / 1000 + " s", false);
        })
        .catch(function (error) {
          showStatus("Not updating (" + error.message + "); retrying", true);
        });
    }

    // The next poll starts `interval` after this one ends; a page change polls at once.
    function refresh() {
      window.clearTimeout(timer);
      load().then(function () {
        timer = window.setTimeout(refresh, options.interval);
      });
    }

    older.addEventListener("click", function () {
      cursors.push(before);
      before = String(nextBefore);
      refresh();
    });
    newer.addEventListener("click", function () {
      before = cursors.pop() || "";
      refresh();
    });
    refresh();
    return { refresh: refresh };
  }

  window.consoleLive = { utcText: utcText, cell: cell, emptyRow: emptyRow, pagedPoll: pagedPoll };
})();
