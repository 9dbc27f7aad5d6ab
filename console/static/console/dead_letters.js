// The dead letters page: draw a page of the JSON list, poll it, and re-queue the selected
// messages after a confirmation. Every value is written with textContent, never as markup.
(function () {
  "use strict";

  var card = document.getElementById("dead-letters-card");
  var listUrl = card.dataset.listUrl;
  var requeueUrl = card.dataset.requeueUrl;
  var interval = Number(card.dataset.pollIntervalMs) || 5000;
  var canRequeue = card.dataset.canRequeue === "true";
  var tbody = document.getElementById("dead-letters");
  var openButton = document.getElementById("requeue-open");
  var dialog = document.getElementById("requeue-dialog");
  var result = document.getElementById("requeue-result");
  var newer = document.getElementById("page-newer");
  var older = document.getElementById("page-older");

  // The keyset cursors of the pages before this one; "" is the first page.
  var cursors = [];
  var before = "";
  var nextBefore = null;
  var selected = new Set();
  var timer = null;

  function utcText(iso) {
    return iso ? new Date(iso).toISOString().replace("T", " ").replace(/\.[0-9]+Z$/, " UTC") : "";
  }

  function cell(text, className) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (className) {
      td.className = className;
    }
    return td;
  }

  function selectCell(letter) {
    var td = document.createElement("td");
    if (!canRequeue) {
      return td;
    }
    var box = document.createElement("input");
    box.type = "checkbox";
    box.value = String(letter.id);
    box.checked = selected.has(box.value);
    box.setAttribute("aria-label", "Select message " + letter.id);
    box.addEventListener("change", function () {
      if (box.checked) {
        selected.add(box.value);
      } else {
        selected.delete(box.value);
      }
      updateButton();
    });
    td.appendChild(box);
    return td;
  }

  function render(body) {
    var shown = new Set();
    var rows = body.dead_letters.map(function (letter) {
      shown.add(String(letter.id));
      var tr = document.createElement("tr");
      tr.dataset.id = String(letter.id);
      [
        [selectCell(letter), ""],
        [cell(letter.id, "num"), "id"],
        [cell(letter.consumer), "consumer"],
        [cell(letter.topic), "topic"],
        [cell(letter.subject_id === null ? "payload" : letter.subject_id), "subject"],
        [cell(letter.error, "break error-text"), "error"],
        [cell(letter.attempts, "num"), "attempts"],
        [cell(utcText(letter.dead_lettered_at), "time"), "dead-lettered"],
      ].forEach(function (pair) {
        // A phone shows each row as a card, each value after its column's name.
        if (pair[1]) {
          pair[0].dataset.label = pair[1];
        }
        tr.appendChild(pair[0]);
      });
      return tr;
    });
    if (rows.length === 0) {
      var empty = cell(before ? "no older dead letters" : "no dead letters", "hint");
      empty.colSpan = 8;
      var tr = document.createElement("tr");
      tr.appendChild(empty);
      rows = [tr];
    }
    // What left the list (re-queued elsewhere) is no longer selected.
    selected.forEach(function (id) {
      if (!shown.has(id)) {
        selected.delete(id);
      }
    });
    tbody.replaceChildren.apply(tbody, rows);
    nextBefore = body.next_before;
    older.disabled = nextBefore === null;
    newer.disabled = cursors.length === 0;
    updateButton();
  }

  function updateButton() {
    if (canRequeue) {
      openButton.disabled = selected.size === 0;
      openButton.textContent = selected.size ? "Re-queue " + selected.size + " selected" : "Re-queue selected";
    }
  }

  function showStatus(text, stale) {
    var node = document.getElementById("live-status");
    node.textContent = text;
    node.classList.toggle("error", Boolean(stale));
  }

  function load() {
    var url = new URL(listUrl, window.location.href);
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
        render(body);
        showStatus("Live: as of " + utcText(body.as_of) + ", every " + interval / 1000 + " s", false);
      })
      .catch(function (error) {
        showStatus("Not updating (" + error.message + "); retrying", true);
      });
  }

  // The next poll starts `interval` after this one ends; a page change polls at once.
  function poll() {
    window.clearTimeout(timer);
    load().then(function () {
      timer = window.setTimeout(poll, interval);
    });
  }

  older.addEventListener("click", function () {
    cursors.push(before);
    before = String(nextBefore);
    poll();
  });
  newer.addEventListener("click", function () {
    before = cursors.pop() || "";
    poll();
  });

  function csrfToken() {
    return document.querySelector("#requeue-form input[name=csrfmiddlewaretoken]").value;
  }

  function requeue(ids) {
    var form = new URLSearchParams();
    ids.forEach(function (id) {
      form.append("ids", id);
    });
    return fetch(requeueUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      body: form,
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok) {
          throw new Error(body.message || "HTTP " + response.status);
        }
        return body;
      });
    });
  }

  if (canRequeue) {
    openButton.addEventListener("click", function () {
      var count = selected.size;
      document.getElementById("requeue-question").textContent =
        "Re-queue " + count + (count === 1 ? " message" : " messages") + "? Each goes out again in a batch of its own.";
      dialog.returnValue = ""; // Escape closes it without setting one.
      dialog.showModal();
    });
    dialog.addEventListener("close", function () {
      if (dialog.returnValue !== "confirm") {
        return;
      }
      var ids = Array.from(selected);
      result.textContent = "Re-queueing…";
      result.className = "";
      requeue(ids)
        .then(function (body) {
          selected.clear();
          result.textContent = "Re-queued " + body.requeued + (body.requeued === 1 ? " message." : " messages.");
          result.className = "ok";
        })
        .catch(function (error) {
          result.textContent = "Not re-queued: " + error.message;
          result.className = "error";
        })
        .then(poll);
    });
  }

  poll();
})();
