// The router's operator console: reads the REST API one level up from
// /router/ui/ (../status, ../queue, ../batches, ../rules/...) and acts on it.
// Every request that changes something carries X-Router-Console: 1, which
// the plugin requires of mutating routes (a page on another site cannot send
// it). Text from the server is always put in the page as text, never as HTML.
"use strict";

const REFRESH_MS = 3000;
const JOB_STATES = ["pending", "sending", "failed", "dead", "held"];
const QUEUE_LIMIT = 5000;  // rows the queue view loads at most, in pages of 1000

const state = {
  status: null,      // last GET ../status
  jobs: [],          // rows of the queue view (jobs, or rule-failed instances)
  jobsAreIntake: false,
  lastErrors: {},    // destination -> last error of a failed or dead job
  delivered: [],     // samples {t, counts: {destination: jobs delivered}} of the last minute
  timer: null,
};

// ---------------------------------------------------------------- helpers

const $ = (selector, root = document) => root.querySelector(selector);

// el("td", {class: "num"}, "text", childNode, ...): text children stay text.
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body, headers = {}) {
  const init = { method, headers: { ...headers }, credentials: "same-origin", cache: "no-store" };
  if (method !== "GET") init.headers["X-Router-Console"] = "1";
  if (body !== undefined) init.body = body;
  const response = await fetch("../" + path, init);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = text;
  }
  if (!response.ok) {
    const message = data && data.Error ? data.Error : `HTTP ${response.status}`;
    throw new ApiError(response.status, message);
  }
  return data;
}

function duration(seconds) {
  if (seconds === undefined || seconds === null || Number.isNaN(seconds)) return "";
  seconds = Math.max(0, Math.round(seconds));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86400)} d ${Math.floor((seconds % 86400) / 3600)} h`;
}

function since(isoOrMs) {
  const t = typeof isoOrMs === "number" ? isoOrMs : Date.parse(isoOrMs);
  return Number.isNaN(t) ? "" : duration((Date.now() - t) / 1000);
}

function notice(message, kind = "error") {
  const box = $("#notice");
  box.textContent = message;
  box.className = "notice " + kind;
  box.hidden = !message;
}

// Each cell gets its column's name (data-label): on a small screen the
// stylesheet shows a row as a card of "name: value" lines.
function labelCells(table) {
  const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent);
  for (const row of table.tBodies[0].rows) {
    [...row.cells].forEach((cell, i) => { cell.dataset.label = names[i] || ""; });
  }
}

function plural(n, one, many = one + "s") {
  return `${n} ${n === 1 ? one : many}`;
}

// A modal question; resolves true for OK. Esc and Cancel answer false.
function confirmAction(text, okLabel) {
  const dialog = $("#confirm");
  $("#confirm-text").textContent = text;
  $("#confirm-ok").textContent = okLabel;
  dialog.returnValue = "cancel";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    $("#confirm-cancel").focus();
  });
}

// Runs an action after an optional confirmation; shows what happened.
async function act(question, okLabel, action, done) {
  if (question && !(await confirmAction(question, okLabel))) return;
  try {
    const result = await action();
    notice(done(result), "ok");
  } catch (e) {
    notice(e.message);
  }
  await refresh();
}

function destinationNames() {
  return state.status ? Object.keys(state.status.Destinations).sort() : [];
}

function deadCount(names) {
  return names.reduce((n, name) => n + (((state.status.Destinations[name] || {}).Queue || {}).dead || 0), 0);
}

// ---------------------------------------------------------------- overview

function destinationState(d) {
  if (d.Paused) return el("span", { class: "badge paused" }, "paused");
  if (!d.Up) return el("span", { class: "badge down" }, "down");
  if (d.Window && !d.Window.Open) return el("span", { class: "badge paused" }, "window closed");
  return el("span", { class: "badge up" }, "up");
}

// The last error a destination's jobs carry: of a failed job if any, else of
// a dead one (status has counts only; this asks the queue for one job).
async function loadLastErrors() {
  const errors = {};
  await Promise.all(destinationNames().map(async (name) => {
    const queue = state.status.Destinations[name].Queue || {};
    for (const s of ["failed", "dead"]) {
      if (!queue[s]) continue;
      try {
        const jobs = await api("GET", `queue?destination=${encodeURIComponent(name)}&state=${s}&limit=1`);
        if (jobs.length && jobs[0].LastError) {
          errors[name] = jobs[0].LastError;
          return;
        }
      } catch (e) {
        // the count moved on between the two requests: nothing to show
      }
    }
  }));
  state.lastErrors = errors;
}

// Jobs delivered per destination, from the Prometheus text of ../metrics
// (orthanc_router_jobs_total, outcome delivered or delivered_warning); the
// rate is taken over the samples of the last minute.
async function sampleDelivered() {
  let text;
  try {
    text = await api("GET", "metrics");
  } catch (e) {
    return;  // no rate shown, the rest of the overview still is
  }
  const counts = {};
  for (const line of String(text).split("\n")) {
    if (!line.startsWith("orthanc_router_jobs_total{")) continue;
    const destination = /destination="((?:[^"\\]|\\.)*)"/.exec(line);
    const outcome = /outcome="([^"]*)"/.exec(line);
    if (!destination || !outcome || !outcome[1].startsWith("delivered")) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    counts[destination[1]] = (counts[destination[1]] || 0) + value;
  }
  const now = Date.now();
  state.delivered = state.delivered.filter((sample) => now - sample.t <= 60000);
  state.delivered.push({ t: now, counts });
}

function deliveryRate(name) {
  const samples = state.delivered;
  if (samples.length < 2) return "…";
  const first = samples[0];
  const last = samples[samples.length - 1];
  const minutes = (last.t - first.t) / 60000;
  const delivered = (last.counts[name] || 0) - (first.counts[name] || 0);
  return minutes > 0 ? String(Math.max(0, Math.round(delivered / minutes))) : "…";
}

function renderOverview() {
  const s = state.status;
  const intake = s.Intake || {};
  const rules = s.Rules || {};
  const card = (label, value, cls) =>
    el("div", { class: "card" + (cls ? " " + cls : "") }, el("span", { class: "label" }, label),
       el("span", { class: "value" }, value));
  $("#summary").replaceChildren(
    card("Appliance", s.State || (s.Running ? "running" : "stopped"), s.Running ? "" : "warn"),
    card("Intake: new", intake.new ?? 0),
    card("Intake: routing", intake.routing ?? 0),
    card("Rule-failed", intake["rule-failed"] ?? 0, intake["rule-failed"] ? "warn" : ""),
    card("Rules version", (rules.Version || "").slice(0, 12), ""),
    card("Rules loaded", rules.LoadedAt ? since(rules.LoadedAt) + " ago" : ""),
    ...nodeCards(s, card),
  );

  const rows = destinationNames().map((name) => {
    const d = s.Destinations[name];
    const q = d.Queue || {};
    const actions = el("div", { class: "actions" },
      d.Paused
        ? el("button", { type: "button", onclick: () => pauseDestination(name, false) }, "Resume")
        : el("button", { type: "button", onclick: () => pauseDestination(name, true) }, "Pause"),
      q.dead ? el("button", { type: "button", onclick: () => retryDead([name]) }, `Retry ${q.dead} dead`) : null,
      q.dead ? el("button", { type: "button", class: "danger", onclick: () => purgeDead([name]) },
                  `Purge ${q.dead} dead`) : null,
      el("a", { href: `#queue?destination=${encodeURIComponent(name)}` }, "Jobs"));
    return el("tr", { "data-destination": name },
      el("th", { scope: "row" }, name, el("span", { class: "kind" }, d.Type)),
      el("td", { class: "state" }, destinationState(d)),
      ...JOB_STATES.map((st) => el("td", { class: "num" + (q[st] && (st === "dead" || st === "failed") ? " bad" : ""),
                                          "data-state": st }, q[st] ?? 0)),
      el("td", { class: "num" }, d.OldestJobAgeSeconds ? duration(d.OldestJobAgeSeconds) : "—"),
      el("td", { class: "num rate" }, deliveryRate(name)),
      el("td", { class: "error" }, state.lastErrors[name] || ""),
      el("td", {}, actions));
  });
  $("#destinations tbody").replaceChildren(...rows);
  labelCells($("#destinations"));
}

// This appliance, and on a shared queue every node with what it holds. A
// pause is this node's only (README, "What is shared and what is per node").
function nodeCards(s, card) {
  const nodes = s.Nodes || [];
  if (nodes.length <= 1) return [card("Node", s.Node || "")];
  const gone = nodes.filter((n) => !n.Alive);
  const cards = [card("Node (this one)", s.Node || "")];
  for (const n of nodes) {
    const held = `${n.Routing} routing, ${n.Sending} sending`;
    const c = card(`Node ${n.Name}`, n.Alive ? held : `gone ${duration(n.HeartbeatAgeSeconds)}`, n.Alive ? "" : "warn");
    c.title = `last heartbeat ${since(n.LastHeartbeat)} ago, lease ${n.LeaseSeconds} s`;
    c.dataset.node = n.Name;
    cards.push(c);
  }
  if (gone.length) cards[0].classList.add("warn");
  return cards;
}

function pauseDestination(name, paused) {
  const verb = paused ? "pause" : "resume";
  return act(null, null, () => api("POST", `destinations/${encodeURIComponent(name)}/${verb}`),
             () => `${name} ${paused ? "paused: its jobs wait" : "resumed"}`);
}

function retryDead(names) {
  const n = deadCount(names);
  return act(`Retry ${plural(n, "dead job")} of ${names.join(", ")}? They are sent again now.`, "Retry",
             async () => {
               let total = 0;
               for (const name of names) total += (await api("POST", `destinations/${encodeURIComponent(name)}/retry`)).Retried;
               return total;
             },
             (total) => `${plural(total, "job")} retried`);
}

function purgeDead(names) {
  const n = deadCount(names);
  return act(`Purge ${plural(n, "dead job")} of ${names.join(", ")}? They are removed from the queue and will not be sent.`,
             "Purge", async () => {
               let total = 0;
               for (const name of names) total += (await api("DELETE", `destinations/${encodeURIComponent(name)}/dead`)).Purged;
               return total;
             },
             (total) => `${plural(total, "job")} purged`);
}

// ---------------------------------------------------------------- queue

function queueFilter() {
  const form = $("#queue-filter");
  return {
    destination: form.destination.value,
    state: form.state.value,
    age: form.age.value === "" ? null : Number(form.age.value),
    search: form.search.value.trim(),
  };
}

function fillDestinationSelect() {
  const select = $("#queue-filter").destination;
  const current = select.value;
  const names = destinationNames();
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.join("\n") !== names.join("\n")) {
    select.replaceChildren(el("option", { value: "" }, "all"), ...names.map((n) => el("option", { value: n }, n)));
    select.value = names.includes(current) ? current : "";
  }
}

async function loadJobs() {
  const f = queueFilter();
  if (f.state === "rule-failed") {
    state.jobs = await api("GET", "queue?state=rule-failed");
    state.jobsAreIntake = true;
    return;
  }
  const rows = [];
  let after = 0;
  while (rows.length < QUEUE_LIMIT) {
    const params = new URLSearchParams({ limit: "1000", after: String(after) });
    if (f.destination) params.set("destination", f.destination);
    if (f.state) params.set("state", f.state);
    // Sent in the query only: the queue compares hashes and keeps no value.
    if (f.search) params.set("search", f.search);
    const page = await api("GET", "queue?" + params);
    rows.push(...page);
    if (page.length < 1000) break;
    after = page[page.length - 1].Id;
  }
  const cutoff = f.age === null ? null : Date.now() - f.age * 60000;
  state.jobs = cutoff === null ? rows : rows.filter((j) => j.CreatedAtMs <= cutoff);
  state.jobsAreIntake = false;
}

function renderJobs() {
  const f = queueFilter();
  const head = $("#jobs thead");
  const body = $("#jobs tbody");
  const th = (t, cls) => el("th", { scope: "col", class: cls }, t);
  if (state.jobsAreIntake) {
    head.replaceChildren(el("tr", {}, th("Instance"), th("State"), th("Error")));
    body.replaceChildren(...state.jobs.map((i) =>
      el("tr", {}, el("td", { class: "mono" }, i.Instance), el("td", {}, i.State), el("td", { class: "error" }, i.Error))));
    $("#queue-count").textContent = plural(state.jobs.length, "rule-failed instance");
  } else {
    head.replaceChildren(el("tr", {}, th("Id", "num"), th("Destination"), th("State"), th("Attempts", "num"),
                            th("Age"), th("Syntax"), th("Last error"), th("Actions")));
    body.replaceChildren(...state.jobs.map((j) => el("tr", { "data-job": j.Id },
      el("td", { class: "num" }, j.Id), el("td", {}, j.Destination),
      el("td", {}, el("span", { class: "badge " + j.State }, j.State)), el("td", { class: "num" }, j.Attempts),
      el("td", {}, since(j.CreatedAtMs)), el("td", {}, j.TransferSyntax), el("td", { class: "error" }, j.LastError),
      el("td", {}, el("div", { class: "actions" },
        el("button", { type: "button", onclick: () => showJob(j.Id), "aria-label": `Details of job ${j.Id}` }, "Details"),
        j.State === "failed" || j.State === "dead"
          ? el("button", { type: "button", onclick: () => retryJob(j.Id), "aria-label": `Retry job ${j.Id}` }, "Retry")
          : null,
        j.State !== "sending"
          ? el("button", { type: "button", class: "danger", onclick: () => purgeJob(j.Id), "aria-label": `Purge job ${j.Id}` }, "Purge")
          : null)))));
    const capped = state.jobs.length >= QUEUE_LIMIT ? ` (the first ${QUEUE_LIMIT})` : "";
    $("#queue-count").textContent = plural(state.jobs.length, "job") + capped;
  }
  labelCells($("#jobs"));
  // The bulk actions apply to what the filter selects.
  const names = f.destination ? [f.destination] : destinationNames();
  const dead = state.status ? deadCount(names) : 0;
  const scope = f.destination ? ` of ${f.destination}` : "";
  $("#retry-matching").textContent = `Retry all ${dead} dead${scope}`;
  $("#purge-matching").textContent = `Purge all ${dead} dead${scope}`;
  $("#retry-matching").disabled = $("#purge-matching").disabled = dead === 0;
  // The jobs the filter shows, whatever their state (failed, pending, held...).
  const { retryable, purgeable } = shownActionable();
  $("#retry-shown").textContent = `Retry the ${retryable.length} shown`;
  $("#purge-shown").textContent = `Purge the ${purgeable.length} shown`;
  $("#retry-shown").disabled = state.jobsAreIntake || retryable.length === 0;
  $("#purge-shown").disabled = state.jobsAreIntake || purgeable.length === 0;
  const ruleFailed = state.status ? (state.status.Intake || {})["rule-failed"] || 0 : 0;
  $("#reroute").textContent = `Re-route ${ruleFailed} rule-failed`;
  $("#reroute").disabled = ruleFailed === 0;
}

// The jobs of the current filter that a retry or a purge applies to.
function shownActionable() {
  const jobs = state.jobsAreIntake ? [] : state.jobs;
  return { retryable: jobs.filter((j) => j.State === "failed" || j.State === "dead"),
           purgeable: jobs.filter((j) => j.State !== "sending") };
}

// One request per job, in order; a job that changed meanwhile is counted, not fatal.
async function eachJob(jobs, request) {
  let done = 0;
  const refused = [];
  for (const j of jobs) {
    try {
      await request(j);
      done += 1;
    } catch (e) {
      refused.push(`job ${j.Id}: ${e.message}`);
    }
  }
  return { done, refused };
}

function retryShown() {
  const { retryable } = shownActionable();
  return act(`Retry ${plural(retryable.length, "job")} shown (failed or dead) now?`, "Retry",
             () => eachJob(retryable, (j) => api("POST", `queue/${j.Id}/retry`)),
             (r) => `${plural(r.done, "job")} retried` + (r.refused.length ? `; refused: ${r.refused.join("; ")}` : ""));
}

function purgeShown() {
  const { purgeable } = shownActionable();
  return act(`Purge ${plural(purgeable.length, "job")} shown? They are removed from the queue and will not be sent.`,
             "Purge", () => eachJob(purgeable, (j) => api("DELETE", `queue/${j.Id}`)),
             (r) => `${plural(r.done, "job")} purged` + (r.refused.length ? `; refused: ${r.refused.join("; ")}` : ""));
}

function retryJob(id) {
  return act(null, null, () => api("POST", `queue/${id}/retry`), () => `job ${id} retried: it is sent again now`);
}

function purgeJob(id) {
  return act(`Purge 1 job (job ${id})? It is removed from the queue and will not be sent.`, "Purge",
             () => api("DELETE", `queue/${id}`), () => `job ${id} purged`);
}

async function showJob(id) {
  let job;
  try {
    job = await api("GET", `queue/${id}`);
  } catch (e) {
    return notice(e.message);
  }
  const modify = Object.entries(job.Modify || {}).map(([k, v]) => `${k} = ${v === false ? "(removed)" : v}`);
  const facts = [
    ["Job", job.Id], ["State", job.State], ["Destination", job.Destination],
    ["Transfer syntax", job.TransferSyntax], ["Priority", job.Priority], ["Modify", modify.join("; ") || "nothing"],
    ["Attempts", job.Attempts], ["Last error", job.LastError || "none"],
    ["Created", new Date(job.CreatedAtMs).toISOString()], ["Next attempt", new Date(job.NextAttemptAtMs).toISOString()],
    ["SOP Instance UID", job.SOPInstanceUID], ["Orthanc instance", job.Instance],
  ];
  const detail = $("#job-detail");
  $("h3", detail).textContent = `Job ${job.Id}`;
  $("dl", detail).replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  // Every attempt, from the audit trail (404 when Router.AuditLog is not set).
  const trail = $("#job-attempts");
  try {
    const { Attempts } = await api("GET", `queue/${id}/attempts`);
    trail.replaceChildren(...(Attempts.length ? Attempts : [null]).map((a) => el("li", {}, a
      ? `${a.time} · attempt ${a.attempt} · ${a.outcome}${a.detail ? " · " + a.detail : ""}`
      : "no attempt yet")));
  } catch (e) {
    trail.replaceChildren(el("li", {}, e.message));
  }
  detail.hidden = false;
  detail.focus();
}

// CSV of the rows shown, made here in the browser. A cell that a
// spreadsheet would read as a formula gets a leading apostrophe.
function exportCsv() {
  const columns = state.jobsAreIntake
    ? ["Instance", "State", "Error"]
    : ["Id", "Destination", "State", "Attempts", "CreatedAtMs", "NextAttemptAtMs", "TransferSyntax", "Priority",
       "SOPInstanceUID", "Instance", "LastError"];
  const cell = (v) => {
    let text = v === undefined || v === null ? "" : String(v);
    if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = [columns.join(","), ...state.jobs.map((row) => columns.map((c) => cell(row[c])).join(","))];
  const blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" });
  const f = queueFilter();
  const link = el("a", { href: URL.createObjectURL(blob),
                         download: `router-queue-${f.destination || "all"}-${f.state || "all"}.csv` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

// ---------------------------------------------------------------- studies

async function loadBatches() {
  const wanted = $("#batch-filter").state.value;
  const get = (s) => api("GET", "batches?limit=500" + (s ? "&state=" + s : ""));
  return wanted === "open" ? [...(await get("waiting")), ...(await get("on-hold"))] : get(wanted);
}

function batchAction(batch, action) {
  const what = `${batch.Level} ${batch.Id} (${plural(batch.Instances, "instance")}, to ${batch.Destination})`;
  const questions = {
    release: [`Release ${what} now, as if it were complete? Its jobs are sent.`, "Release"],
    cancel: [`Cancel ${what}? Its ${plural(batch.Instances, "held job")} are dropped and will not be sent.`, "Cancel batch"],
  };
  const [question, ok] = questions[action] || [null, null];
  return act(question, ok, () => api("POST", `batches/${batch.Id}/${action}`),
             (b) => `${batch.Level} ${batch.Id}: ${b.State}`);
}

function renderBatches(batches) {
  const rows = batches.map((b) => {
    const uid = b.Level === "study" ? b.StudyInstanceUID : b.SeriesInstanceUID;
    const button = (label, action, cls) =>
      el("button", { type: "button", class: cls, onclick: () => batchAction(b, action),
                     "aria-label": `${label} ${b.Level} ${b.Id}` }, label);
    const open = b.State === "waiting" || b.State === "on-hold";
    return el("tr", { "data-batch": b.Id },
      el("td", { class: "num" }, b.Id), el("td", {}, b.Level), el("td", { class: "mono" }, uid),
      el("td", {}, b.Destination), el("td", {}, el("span", { class: "badge " + b.State }, b.State)),
      el("td", { class: "num" }, b.Expected ? `${b.Instances} / ${b.Expected}` : b.Instances),
      el("td", {}, since(b.FirstArrival) + " ago"),
      el("td", {}, duration(b.SecondsSinceLast)),
      el("td", {}, b.State === "waiting" ? duration(b.CompleteInSeconds) : ""),
      el("td", { class: "error" }, (b.RequiredMissing || []).join(", ")),
      el("td", {}, el("div", { class: "actions" },
        open ? button("Release", "release") : null,
        b.State === "waiting" ? button("Hold", "hold") : null,
        b.State === "on-hold" ? button("Resume", "resume") : null,
        open ? button("Cancel", "cancel", "danger") : null)));
  });
  $("#batches tbody").replaceChildren(...rows);
  labelCells($("#batches"));
  $("#batch-count").textContent = plural(batches.length, "batch", "batches");
}

// ---------------------------------------------------------------- rules

function renderRules() {
  const r = state.status.Rules || {};
  const fact = (k, v) => [el("dt", {}, k), el("dd", {}, v)];
  $("#rules-info").replaceChildren(...fact("Version", r.Version || ""), ...fact("Loaded", r.LoadedAt || ""),
                                   ...fact("Folder", r.Directory || ""));
  $("#rules-files").replaceChildren(...(r.Files || []).map((f) => el("li", { class: "mono" }, f)));
  // The newest reload's refusal, whether asked for here or made on a file change.
  const refused = $("#rules-last-error");
  if (r.LastError) {
    refused.hidden = false;
    refused.textContent = `Last reload refused at ${r.LastError.At}: ${r.LastError.Message}. ` +
                          "The rules loaded before stay in force.";
  } else {
    refused.hidden = true;
    refused.textContent = "";
  }
}

async function reloadRules() {
  const out = $("#reload-result");
  try {
    const result = await api("POST", "rules/reload");
    out.className = "result ok";
    out.textContent = `Reloaded: version ${result.Version}.`;
  } catch (e) {
    // The last load error, with file and line as the engine gives them.
    out.className = "result bad";
    out.textContent = e.message;
  }
  await refresh();
}

function routeLine(route) {
  const parts = [route.destination];
  parts.push(route.transfer_syntax_keyword || route.transfer_syntax || "as received");
  const modify = Object.entries(route.modify || {}).map(([k, v]) => `${k}=${v === false ? "(removed)" : v}`);
  if (modify.length) parts.push("modify " + modify.join(", "));
  if (route.when) parts.push(`when ${route.when} complete`);
  if (route.priority) parts.push(`priority ${route.priority}`);
  if (route.urgent) parts.push("urgent");
  return parts.join(" · ");
}

function renderDecision(title, decision) {
  const box = el("div", { class: "decision" }, el("h4", {}, title));
  if (decision.error) {
    box.append(el("p", { class: "bad" }, `Rule failed: ${decision.error}`));
  } else if (!decision.routes.length) {
    box.append(el("p", {}, "No route: sent nowhere."));
  } else {
    box.append(el("ul", { class: "routes" }, decision.routes.map((r) => el("li", {}, routeLine(r)))));
  }
  return box;
}

async function testFiles(files) {
  const out = $("#test-result");
  if (!files.length) return;
  out.className = "result";
  out.textContent = `Testing ${plural(files.length, "file")}…`;
  try {
    if (files.length === 1) {
      const answer = await api("POST", "rules/test", files[0], { "Content-Type": "application/dicom" });
      out.replaceChildren(renderDecision(files[0].name, answer));
    } else {
      // Several files: one multipart/related body, as STOW-RS; route_study's
      // decision comes back per study.
      const boundary = "router-console-" + Math.random().toString(16).slice(2);
      const parts = [];
      for (const f of files) {
        parts.push(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`, f, "\r\n");
      }
      parts.push(`--${boundary}--\r\n`);
      const answer = await api("POST", "rules/test", new Blob(parts), {
        "Content-Type": `multipart/related; type="application/dicom"; boundary=${boundary}`,
      });
      out.replaceChildren(
        ...answer.instances.map((d, i) => renderDecision(files[i] ? files[i].name : d.sop_instance_uid, d)),
        ...(answer.studies || []).map((d) => renderDecision(`Study of ${plural(d.instances, "instance")}`, d)));
    }
  } catch (e) {
    out.className = "result bad";
    out.textContent = e.message;
  }
}

// ---------------------------------------------------------------- views

function currentView() {
  const name = location.hash.replace(/^#/, "").split("?")[0];
  return ["overview", "queue", "studies", "rules"].includes(name) ? name : "overview";
}

function showView() {
  const view = currentView();
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== "view-" + view;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  // #queue?destination=NAME (the overview's links): preset the filter.
  const query = new URLSearchParams(location.hash.split("?")[1] || "");
  if (view === "queue" && query.has("destination")) {
    fillDestinationSelect();
    $("#queue-filter").destination.value = query.get("destination");
    $("#queue-filter").state.value = query.get("state") || "";
  }
  document.title = `Router console: ${view}`;
  refresh();
}

// One refresh at a time; one asked for meanwhile (after an action) runs
// when the current one ends, so that what is shown follows the action.
let refreshing = null;
let refreshAgain = false;
async function refresh() {
  clearTimeout(state.timer);
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async () => {
    try {
      state.status = await api("GET", "status");
      fillDestinationSelect();
      const view = currentView();
      if (view === "overview") {
        await Promise.all([loadLastErrors(), sampleDelivered()]);
        renderOverview();
      } else if (view === "queue") {
        await loadJobs();
        renderJobs();
      } else if (view === "studies") {
        renderBatches(await loadBatches());
      } else {
        renderRules();
      }
      $("#refreshed").textContent = `Updated ${new Date().toLocaleTimeString()}`;
      $("#refreshed").classList.remove("stale");
    } catch (e) {
      $("#refreshed").textContent = `Not updated: ${e.message}`;
      $("#refreshed").classList.add("stale");
    } finally {
      refreshing = null;
      if (refreshAgain) {
        refreshAgain = false;
        refresh();
      } else if (!document.hidden && currentView() !== "queue") {
        // The queue view is refreshed on demand (a filter of thousands of
        // rows would reload every few seconds); the others live.
        state.timer = setTimeout(refresh, REFRESH_MS);
      }
    }
  })();
  return refreshing;
}

function setUp() {
  window.addEventListener("hashchange", () => { notice(""); showView(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  $("#queue-filter").addEventListener("submit", (e) => { e.preventDefault(); $("#job-detail").hidden = true; refresh(); });
  $("#batch-filter").addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
  $("#batch-filter").state.addEventListener("change", () => refresh());
  $("#retry-matching").addEventListener("click", () => {
    const f = queueFilter();
    retryDead((f.destination ? [f.destination] : destinationNames()).filter((n) => deadCount([n]) > 0));
  });
  $("#purge-matching").addEventListener("click", () => {
    const f = queueFilter();
    purgeDead((f.destination ? [f.destination] : destinationNames()).filter((n) => deadCount([n]) > 0));
  });
  $("#retry-shown").addEventListener("click", retryShown);
  $("#purge-shown").addEventListener("click", purgeShown);
  $("#reroute").addEventListener("click", () => {
    const n = (state.status.Intake || {})["rule-failed"] || 0;
    act(`Route ${plural(n, "rule-failed instance")} again with the rules now in force?`, "Re-route",
        () => api("POST", "rules/reroute"), (r) => `${plural(r.Rerouted, "instance")} routed again`);
  });
  $("#export-csv").addEventListener("click", exportCsv);
  $("#close-detail").addEventListener("click", () => { $("#job-detail").hidden = true; });
  $("#reload").addEventListener("click", reloadRules);
  const input = $("#test-file");
  input.addEventListener("change", () => testFiles([...input.files]));
  const drop = $("#drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    testFiles([...e.dataTransfer.files]);
  });
  showView();
}

setUp();
