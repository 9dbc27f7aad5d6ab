// The dead letters page: draw a page of the JSON list, poll it, and re-queue the selected
// messages after a confirmation. Every value is written with textContent, never as markup.
(function () {
  "use strict";

  var live = window.consoleLive;
  var card = document.getElementById("dead-letters-card");
  var requeueUrl = card.dataset.requeueUrl;
  var canRequeue = card.dataset.canRequeue === "true";
  var tbody = document.getElementById("dead-letters");
  var openButton = document.getElementById("requeue-open");
  var dialog = document.getElementById("requeue-dialog");
  var result = document.getElementById("requeue-result");
  var selected = new Set();

  function selectCell(letter) {
    var td = document.createElement("td");
    if (!canRequeue) {
      return td;
    }
    td.dataset.label = "select";
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

  // What the letter is about: a stored event (tenant, event id, type, its user linking to the
  // People page), one no longer stored, a payload, or else the bare subject id.
  function subjectCell(letter) {
    var about = letter.about;
    if (!about) {
      return live.cell(letter.subject_id === null ? "payload" : letter.subject_id, "", "subject");
    }
    var td = live.cell(about.kind + " " + letter.subject_id, "break", "subject");
    var detail = document.createElement("span");
    detail.className = "hint subject-detail";
    if (!about.stored) {
      detail.textContent = "no longer stored";
      td.appendChild(detail);
      return td;
    }
    detail.textContent = about.tenant_id + " · " + about.event_id + " · " + about.event_type;
    td.appendChild(detail);
    if (about.user) {
      var link = document.createElement("a");
      link.className = "subject-detail";
      link.href = about.user.url;
      link.textContent = about.user.email || about.user.external_id || "user " + about.user.id;
      td.appendChild(link);
    }
    return td;
  }

  function render(body, isFirstPage) {
    var shown = new Set();
    var rows = body.dead_letters.map(function (letter) {
      shown.add(String(letter.id));
      var tr = document.createElement("tr");
      tr.dataset.id = String(letter.id);
      [
        selectCell(letter),
        live.cell(letter.id, "num", "id"),
        live.cell(letter.consumer, "", "consumer"),
        live.cell(letter.topic, "", "topic"),
        subjectCell(letter),
        live.cell(letter.error, "break error-text", "error"),
        live.cell(letter.attempts, "num", "attempts"),
        live.cell(live.utcText(letter.dead_lettered_at), "time", "dead-lettered"),
      ].forEach(function (td) {
        tr.appendChild(td);
      });
      return tr;
    });
    if (rows.length === 0) {
      rows = [live.emptyRow(isFirstPage ? "no dead letters" : "no older dead letters", 8)];
    }
    // What left the list (re-queued elsewhere) is no longer selected.
    selected.forEach(function (id) {
      if (!shown.has(id)) {
        selected.delete(id);
      }
    });
    tbody.replaceChildren.apply(tbody, rows);
    updateButton();
  }

  function updateButton() {
    if (canRequeue) {
      openButton.disabled = selected.size === 0;
      openButton.textContent = selected.size ? "Re-queue " + selected.size + " selected" : "Re-queue selected";
    }
  }

  var pages = live.pagedPoll({
    url: card.dataset.listUrl,
    interval: Number(card.dataset.pollIntervalMs) || 5000,
    render: render,
  });

  function requeue(ids) {
    var form = new URLSearchParams();
    ids.forEach(function (id) {
      form.append("ids", id);
    });
    var token = document.querySelector("#requeue-form input[name=csrfmiddlewaretoken]").value;
    return fetch(requeueUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token, Accept: "application/json" },
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
      result.textContent = "Re-queueing…";
      result.className = "";
      requeue(Array.from(selected))
        .then(function (body) {
          selected.clear();
          result.textContent = "Re-queued " + body.requeued + (body.requeued === 1 ? " message." : " messages.");
          result.className = "ok";
        })
        .catch(function (error) {
          result.textContent = "Not re-queued: " + error.message;
          result.className = "error";
        })
        .then(pages.refresh);
    });
  }
})();
