// The Rules page: everything through the rule-lifecycle API (/api/v1/rules/...), with the
// staff session and its CSRF token. Reads: the change log, a version's source, two versions'
// diff (computed here), a backtest's progress and result. Writes (which need the permission
// rule_sets.change_rulesetversion; the API refuses them otherwise): a candidate, a backtest,
// an activation. Every value from the API is set as text, never as markup.
"use strict";
(() => {
  const root = document.getElementById("rules-page");
  const kind = root.dataset.kind;
  const canChange = root.dataset.canChange === "true";
  const csrfToken = root.dataset.csrf;
  const api = `/api/v1/rules/${encodeURIComponent(kind)}`;
  const POLL_MS = 5000;
  const BACKTEST_POLL_MS = 500;
  const CONTEXT_LINES = 3;
  // Beyond this many cells the LCS table is not built: the changed middle shows as replaced.
  const DIFF_MAX_CELLS = 4_000_000;

  const byId = (id) => document.getElementById(id);
  let versions = [];
  let lastSeen = "";
  // Each read of the change log is numbered as it is asked for; the page draws an answer only
  // when it is newer than the one it shows. A poll asked before a candidate was stored, and
  // answered after the refresh that followed, would otherwise undo that refresh.
  let readsAsked = 0;
  let readShown = 0;
  let shownSource = null;
  // Each diff asked for (a click on Show diff, a poll's redraw) is numbered; only the last one
  // asked is drawn. Two versions' sources may come from the API, and an older diff whose
  // source came late would otherwise replace the newer one already shown.
  let diffsAsked = 0;
  // The Source card shows the active version, whichever it is, until a version's Source button
  // is pressed; an activation on this page brings it back to the active one.
  let sourceFollowsActive = true;
  const backtested = new Map(); // version -> its last backtest run on this page, once done
  const sources = new Map(); // version -> source: a version never changes once stored

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (name === "text") node.textContent = value;
      else if (name === "onclick") node.addEventListener("click", value);
      else if (value !== false && value !== null && value !== undefined) node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  }

  function utc(iso) {
    return iso ? iso.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC") : "";
  }

  // The API's answer: its status and JSON body; a 4xx or 5xx is thrown, as an error carrying
  // both.
  async function answer(method, url, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRFToken"] = csrfToken;
      init.body = JSON.stringify(body || {});
    }
    const response = await fetch(url, init);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(data.message || `The API answered ${response.status}.`);
      error.status = response.status;
      error.body = data;
      throw error;
    }
    return { status: response.status, data };
  }

  async function call(method, url, body) {
    return (await answer(method, url, body)).data;
  }

  // ---- the change log -------------------------------------------------------------------

  // Say how an action ended, until the next one: `ok` or an error.
  function say(text, ok = false) {
    const message = byId("page-message");
    message.textContent = text;
    message.className = ok ? "ok" : "error";
    message.hidden = false;
  }

  function report(error) {
    say(error.message);
  }

  // A button whose action may fail: its error is reported on the page, never left unhandled.
  function actionButton(label, action, extra = {}) {
    const onclick = () => action().catch(report);
    return el("button", { type: "button", onclick, ...extra, text: label });
  }

  function changeButton(label, action, extra = {}) {
    const button = actionButton(label, action, extra);
    if (!canChange) {
      button.disabled = true;
      button.title = "Needs the permission rule_sets.change_rulesetversion";
    }
    return button;
  }

  // Activating `entry` goes back to it: it was active once and is older than the active one. A
  // retired version newer than the active one (after a rollback past it) is activated again.
  function isRollback(entry, active) {
    return entry.status === "retired" && active !== undefined && entry.version < active.version;
  }

  function versionRow(entry, active) {
    const activations = el("ul", { class: "plain" });
    for (const a of entry.activations) {
      const replaced = a.replaced === null ? "the first" : `replaced v${a.replaced}`;
      activations.append(el("li", { text: `${a.activated_by}, ${utc(a.activated_at)} (${replaced})` }));
    }
    const actions = el(
      "div",
      { class: "actions" },
      actionButton("Source", () => showChosenSource(entry.version), { class: "secondary" }),
      changeButton("Backtest", async () => chooseBacktest(entry.version), { class: "secondary" }),
    );
    if (entry.status !== "active") {
      const label = isRollback(entry, active) ? "Roll back" : "Activate";
      const confirm = () => confirmActivation(entry);
      actions.append(changeButton(label, confirm, { "data-activate": entry.version }));
    }
    return el(
      "tr",
      { "data-version": entry.version },
      el("td", { class: "num", text: `v${entry.version}` }),
      el("td", {}, el("span", { class: `status status-${entry.status}`, text: entry.status })),
      el("td", { class: "note", text: entry.note }),
      el(
        "td",
        {},
        el("span", { text: entry.created_by }),
        el("br"),
        el("span", { class: "hint", text: utc(entry.created_at) }),
      ),
      el("td", {}, activations),
      el("td", {}, actions),
    );
  }

  // Fill a select with the versions, keeping the user's choice; until there is one, `preferred`.
  function fillVersionSelect(select, preferred) {
    const chosen = select.dataset.chosen ? select.value : String(preferred ?? "");
    select.replaceChildren(
      ...versions.map((v) => el("option", { value: v.version, text: `v${v.version} (${v.status})` })),
    );
    if (versions.some((v) => String(v.version) === chosen)) select.value = chosen;
  }

  // Every version, newest first: the change log is paged, and the active version may be on any
  // page, so each page's `next` is followed to the last. Only its path and query are: behind a
  // proxy the absolute URL the API builds may name another scheme or host than the page's.
  async function changeLog() {
    const all = [];
    let url = `${api}/versions`;
    while (url) {
      const page = await call("GET", url);
      all.push(...page.versions);
      const next = page.next && new URL(page.next, window.location.href);
      url = next && `${next.pathname}${next.search}`;
    }
    return all;
  }

  async function refreshVersions() {
    readsAsked += 1;
    const read = readsAsked;
    try {
      const history = await changeLog();
      if (read < readShown) return; // a newer answer is shown already
      readShown = read;
      const seen = JSON.stringify(history);
      byId("live-status").textContent = `live, updated ${utc(new Date().toISOString())}`;
      if (seen === lastSeen) return; // unchanged: leave the rows (and a pointer on them) be
      lastSeen = seen;
      versions = history;
      const active = versions.find((v) => v.status === "active");
      byId("versions").tBodies[0].replaceChildren(...versions.map((v) => versionRow(v, active)));
      const newest = versions[0];
      const [from, to] = firstDiff(active);
      fillVersionSelect(byId("diff-from"), from);
      fillVersionSelect(byId("diff-to"), to);
      fillVersionSelect(byId("backtest-version"), newest && newest.version);
      // Unless the user chose the versions, the box shows the diff the selects now name.
      const chosen = byId("diff-from").dataset.chosen || byId("diff-to").dataset.chosen;
      if (!chosen) await showDiff();
      if (sourceFollowsActive && active) await showSource(active.version, false);
      else if (shownSource !== null) captionSource(shownSource);
    } catch (error) {
      if (read < readShown) return;
      byId("live-status").textContent = `could not read the versions: ${error.message}`;
    }
  }

  // ---- a version's source and the diff of two ------------------------------------------

  // The diff shown until the user chooses one: from the active version to the newest; when the
  // active one is the newest, from the version before it to the active one.
  function firstDiff(active) {
    const newest = versions[0];
    if (!active || !newest) return [undefined, newest && newest.version];
    if (active.version === newest.version && versions.length > 1) {
      return [versions[1].version, active.version];
    }
    return [active.version, newest.version];
  }

  function captionSource(version) {
    const entry = versions.find((v) => v.version === version);
    byId("source-caption").textContent = `${kind} v${version}${entry ? ` (${entry.status})` : ""}`;
  }

  async function showChosenSource(version) {
    sourceFollowsActive = false;
    await showSource(version);
  }

  async function sourceOf(version) {
    if (!sources.has(version)) {
      const detail = await call("GET", `${api}/versions/${version}`);
      sources.set(version, detail.source);
    }
    return sources.get(version);
  }

  async function showSource(version, scroll = true) {
    shownSource = version; // the last one asked for wins, whichever answer comes first
    const source = await sourceOf(version);
    if (shownSource !== version) return;
    byId("source").textContent = source;
    captionSource(version);
    if (scroll) byId("source").scrollIntoView({ block: "nearest" });
  }

  // Return [op, line] pairs (op " ", "-" or "+") turning lines `a` into lines `b`: the common
  // head and tail, and between them a longest common subsequence.
  function lineDiff(a, b) {
    let head = 0;
    while (head < a.length && head < b.length && a[head] === b[head]) head += 1;
    let endA = a.length;
    let endB = b.length;
    while (endA > head && endB > head && a[endA - 1] === b[endB - 1]) {
      endA -= 1;
      endB -= 1;
    }
    const x = a.slice(head, endA);
    const y = b.slice(head, endB);
    const middle = [];
    if (x.length * y.length > DIFF_MAX_CELLS) {
      x.forEach((line) => middle.push(["-", line]));
      y.forEach((line) => middle.push(["+", line]));
    } else {
      const lcs = Array.from({ length: x.length + 1 }, () => new Uint32Array(y.length + 1));
      for (let i = x.length - 1; i >= 0; i -= 1) {
        for (let j = y.length - 1; j >= 0; j -= 1) {
          lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
        }
      }
      let i = 0;
      let j = 0;
      while (i < x.length || j < y.length) {
        if (i < x.length && j < y.length && x[i] === y[j]) {
          middle.push([" ", x[i]]);
          i += 1;
          j += 1;
        } else if (j >= y.length || (i < x.length && lcs[i + 1][j] >= lcs[i][j + 1])) {
          middle.push(["-", x[i]]);
          i += 1;
        } else {
          middle.push(["+", y[j]]);
          j += 1;
        }
      }
    }
    const same = (line) => [" ", line];
    return [...a.slice(0, head).map(same), ...middle, ...a.slice(endA).map(same)];
  }

  // Return the unified diff (3 lines of context) of `a` to `b`, both texts; "" when equal.
  function unifiedDiff(a, b, fromName, toName) {
    const ops = lineDiff(a.split("\n"), b.split("\n"));
    const changed = ops.map((op, index) => (op[0] !== " " ? index : -1)).filter((i) => i >= 0);
    if (changed.length === 0) return "";
    const out = [`--- ${fromName}`, `+++ ${toName}`];
    let index = 0;
    while (index < changed.length) {
      let last = index;
      const near = (i) => changed[i + 1] - changed[i] <= 2 * CONTEXT_LINES;
      while (last + 1 < changed.length && near(last)) last += 1;
      const start = Math.max(0, changed[index] - CONTEXT_LINES);
      const end = Math.min(ops.length, changed[last] + CONTEXT_LINES + 1);
      let oldLine = 1;
      let newLine = 1;
      for (const [op] of ops.slice(0, start)) {
        if (op !== "+") oldLine += 1;
        if (op !== "-") newLine += 1;
      }
      const hunk = ops.slice(start, end);
      const oldCount = hunk.filter(([op]) => op !== "+").length;
      const newCount = hunk.filter(([op]) => op !== "-").length;
      out.push(`@@ -${oldLine},${oldCount} +${newLine},${newCount} @@`);
      hunk.forEach(([op, line]) => out.push(op + line));
      index = last + 1;
    }
    return out.join("\n");
  }

  // Show a unified diff's lines in `pre`, added and removed ones marked for their colour.
  function renderDiff(pre, text) {
    if (!text) {
      pre.replaceChildren(el("span", { class: "diff-ctx", text: "No difference." }));
      return;
    }
    const lines = text.replace(/\n$/, "").split("\n");
    pre.replaceChildren(
      ...lines.map((line, index) => {
        let kindOfLine = "diff-ctx";
        if (index < 2 && /^(\+\+\+|---) /.test(line)) kindOfLine = "diff-file";
        else if (line.startsWith("@@")) kindOfLine = "diff-hunk";
        else if (line.startsWith("+")) kindOfLine = "diff-add";
        else if (line.startsWith("-")) kindOfLine = "diff-del";
        return el("span", { class: kindOfLine, text: `${line}\n` });
      }),
    );
  }

  async function showDiff(event) {
    if (event) event.preventDefault();
    diffsAsked += 1;
    const asked = diffsAsked;
    const from = Number(byId("diff-from").value);
    const to = Number(byId("diff-to").value);
    if (!from || !to) return;
    try {
      const [a, b] = await Promise.all([sourceOf(from), sourceOf(to)]);
      if (asked !== diffsAsked) return; // a newer diff was asked for meanwhile
      renderDiff(byId("diff"), unifiedDiff(a, b, `${kind} v${from}`, `${kind} v${to}`));
    } catch (error) {
      if (asked !== diffsAsked) return;
      byId("diff").textContent = error.message;
    }
  }

  // ---- a candidate ---------------------------------------------------------------------

  function goToLine(line) {
    const textarea = byId("candidate-source");
    const lines = textarea.value.split("\n");
    const start = lines.slice(0, line - 1).reduce((total, text) => total + text.length + 1, 0);
    textarea.focus();
    textarea.setSelectionRange(start, start + (lines[line - 1] || "").length);
  }

  function showCandidateError(error) {
    const box = byId("candidate-errors");
    const body = error.body || {};
    const details = body.details || {};
    const parts = [el("p", { class: "error", text: error.message })];
    if (body.error === "invalid_rules") {
      const line = details.line;
      const list = el("dl", { class: "where" });
      const add = (name, value) =>
        list.append(
          el("dt", { text: name }),
          el("dd", { "data-field": name.toLowerCase(), text: value ?? "—" }),
        );
      add("Rule", details.rule);
      add("Field", details.field);
      add("Line", line);
      parts.push(list);
      if (line) {
        const onclick = () => goToLine(line);
        const text = `Go to line ${line}`;
        parts.push(el("button", { type: "button", class: "secondary", text, onclick }));
      }
    } else {
      for (const [field, messages] of Object.entries(details)) {
        parts.push(el("p", { class: "error", text: `${field}: ${[].concat(messages).join(" ")}` }));
      }
    }
    box.replaceChildren(...parts);
    box.hidden = false;
    byId("candidate-source").setAttribute("aria-invalid", "true");
  }

  async function submitCandidate(event) {
    event.preventDefault();
    const status = byId("candidate-status");
    byId("candidate-errors").hidden = true;
    byId("candidate-source").removeAttribute("aria-invalid");
    status.textContent = "validating…";
    try {
      const stored = await answer("POST", `${api}/versions`, {
        source: byId("candidate-source").value,
        note: byId("candidate-note").value,
      });
      // 201: a new draft; 200: a version already has this source (the active one if it does).
      const { version, status: state } = stored.data;
      if (stored.status === 201) {
        status.textContent = `Stored as v${version}, a draft. Backtest it, then activate it.`;
        status.className = "ok";
      } else {
        status.textContent = `This content is already v${version} (${state}): nothing was stored.`;
        status.className = "hint";
      }
      await refreshVersions();
      chooseBacktest(version);
    } catch (error) {
      status.textContent = "";
      showCandidateError(error);
    }
  }

  async function candidateFromActive() {
    const active = await call("GET", `${api}/active`);
    byId("candidate-source").value = active.source;
  }

  // ---- backtests -----------------------------------------------------------------------

  function chooseBacktest(version) {
    byId("backtest-version").value = String(version);
    byId("backtest-version").dataset.chosen = "true";
    byId("backtest-form").scrollIntoView({ block: "nearest" });
  }

  // Notifications: per version, each outcome on a line of its own, its count first.
  function outcomesCell(outcomes) {
    if (!outcomes) return el("td", { class: "hint", text: "—" });
    const cell = el("td", { class: "outcomes" });
    for (const [version, counts] of Object.entries(outcomes)) {
      const lines = Object.entries(counts).map(([outcome, count]) =>
        el("li", { text: `${count} × ${outcome}` }),
      );
      if (lines.length === 0) lines.push(el("li", { class: "hint", text: "none" }));
      cell.append(el("strong", { text: version }), el("ul", { class: "plain" }, ...lines));
    }
    return cell;
  }

  function showBacktestResult(result) {
    const num = (value) => el("td", { class: "num", text: String(value) });
    const change = (value, column, marked) =>
      el("td", { class: value ? `num ${marked}` : "num", "data-col": column, text: String(value) });
    byId("backtest-rules").tBodies[0].replaceChildren(
      ...result.rules.map((rule) =>
        el(
          "tr",
          { "data-rule": rule.rule },
          el("td", { class: "rule-name", text: rule.rule }),
          num(rule.active),
          num(rule.candidate),
          change(rule.added, "added", "diff-add"),
          change(rule.removed, "removed", "diff-del"),
          num(rule.users),
          outcomesCell(rule.outcomes),
        ),
      ),
    );
    const samples = result.samples.map((sample) =>
      el(
        "tr",
        {},
        el("td", { class: "break mono", text: sample.event_id }),
        el("td", { class: "num", text: String(sample.user_id) }),
        el("td", { text: sample.rule }),
        el("td", {}, el("span", { class: `change change-${sample.change}`, text: sample.change })),
        el("td", { class: "break", text: sample.why }),
      ),
    );
    if (samples.length === 0) {
      const none = el("td", { colspan: 5, class: "hint", text: "No event is judged differently." });
      samples.push(el("tr", {}, none));
    }
    byId("backtest-samples").tBodies[0].replaceChildren(...samples);
    byId("backtest-result").hidden = false;
  }

  function showBacktest(backtest) {
    byId("backtest-progress").value = backtest.progress;
    const window = `${utc(backtest.from)} to ${utc(backtest.to)}`;
    const what = `v${backtest.candidate} against v${backtest.baseline}, ${window}`;
    const status = byId("backtest-status");
    status.className = "hint";
    if (backtest.status === "running" && !backtest.started) {
      status.textContent = `Waiting for a worker to run ${what}: no worker has taken it yet.`;
    } else if (backtest.status === "running") {
      const percent = Math.round(backtest.progress * 100);
      status.textContent = `Running ${what}: ${percent}%, ${backtest.events} events so far.`;
    } else if (backtest.status === "done") {
      status.textContent = `Done: ${what}, ${backtest.result.events} events replayed.`;
      backtested.set(backtest.candidate, backtest);
      showBacktestResult(backtest.result);
    } else {
      status.textContent = `Failed: ${backtest.error}`;
      status.className = "error";
    }
  }

  async function followBacktest(id) {
    const backtest = await call("GET", `/api/v1/rules/backtests/${encodeURIComponent(id)}`);
    showBacktest(backtest);
    if (backtest.status === "running") {
      setTimeout(() => followBacktest(id).catch(backtestFailed), BACKTEST_POLL_MS);
    } else {
      byId("backtest-submit").disabled = !canChange;
    }
  }

  // An invalid window names each field and why: "from: The timestamp must carry a timezone".
  function backtestFailed(error) {
    const details = (error.body && error.body.details) || {};
    const fields = Object.entries(details).map(([name, why]) => `${name}: ${[].concat(why).join(" ")}`);
    byId("backtest-status").textContent = [error.message, ...fields].join(" ");
    byId("backtest-status").className = "error";
    byId("backtest-submit").disabled = !canChange;
  }

  async function runBacktest(event) {
    event.preventDefault();
    const version = byId("backtest-version").value;
    const body = {};
    for (const name of ["from", "to"]) {
      // As typed: the API checks it and says what is wrong, at the field (backtestFailed).
      const value = byId(`backtest-${name}`).value.trim();
      if (value) body[name] = value;
    }
    byId("backtest-run").hidden = false;
    byId("backtest-result").hidden = true;
    byId("backtest-submit").disabled = true;
    byId("backtest-status").textContent = "starting…";
    try {
      const backtest = await call("POST", `${api}/versions/${version}/backtests`, body);
      showBacktest(backtest);
      await followBacktest(backtest.id);
    } catch (error) {
      backtestFailed(error);
    }
  }

  // ---- activation, behind a confirmation ------------------------------------------------

  function backtestSummary(version) {
    const backtest = backtested.get(version);
    if (!backtest) return `v${version} has not been backtested on this page.`;
    const changes = backtest.result.rules
      .filter((rule) => rule.added || rule.removed)
      .map((rule) => `${rule.rule} +${rule.added} −${rule.removed}`);
    const against = `against v${backtest.baseline}, ${utc(backtest.from)} to ${utc(backtest.to)}`;
    return `Its backtest ${against}: ${changes.length ? changes.join(", ") : "no rule changes"}.`;
  }

  async function confirmActivation(entry) {
    const detail = await call("GET", `${api}/versions/${entry.version}`);
    const active = versions.find((v) => v.status === "active");
    const rollback = isRollback(entry, active);
    byId("activate-title").textContent = rollback
      ? `Roll the ${kind} rules back to v${entry.version}?`
      : `Activate v${entry.version} of the ${kind} rules?`;
    const replaced = active ? `v${active.version}` : "the active version";
    byId("activate-summary").textContent =
      `v${entry.version} replaces ${replaced}, the active version: every process ` +
      "judges new events under it within seconds. The change log records you as who activated it. " +
      "What changes:";
    renderDiff(byId("activate-diff"), detail.diff);
    byId("activate-backtest").textContent = backtestSummary(entry.version);
    byId("activate-confirm").textContent = rollback ? "Roll back" : "Activate";
    const dialog = byId("activate-dialog");
    dialog.returnValue = "";
    dialog.onclose = async () => {
      if (dialog.returnValue !== "confirm") return;
      try {
        const activated = await call("POST", `${api}/versions/${entry.version}/activate`, {});
        say(`v${activated.version} of the ${kind} rules is active.`, true);
        // What the user looked at was about the active version before: show the new one's.
        sourceFollowsActive = true;
        delete byId("diff-from").dataset.chosen;
        delete byId("diff-to").dataset.chosen;
      } catch (error) {
        say(`Not activated: ${error.message}`);
      }
      await refreshVersions();
    };
    dialog.showModal();
  }

  // ---- start ---------------------------------------------------------------------------

  for (const button of root.querySelectorAll("[data-needs-change]")) {
    if (!canChange) {
      button.disabled = true;
      button.title = "Needs the permission rule_sets.change_rulesetversion";
    }
  }
  for (const id of ["diff-from", "diff-to", "backtest-version"]) {
    byId(id).addEventListener("change", (event) => (event.target.dataset.chosen = "true"));
  }
  byId("diff-form").addEventListener("submit", showDiff);
  byId("candidate-form").addEventListener("submit", submitCandidate);
  byId("candidate-from-active").addEventListener("click", () =>
    candidateFromActive().catch(showCandidateError),
  );
  byId("backtest-form").addEventListener("submit", runBacktest);
  refreshVersions();
  setInterval(refreshVersions, POLL_MS);
})();
