// The reviewer UI: plain DOM, text only. Everything a requester sent is attacker-controlled, so
// nothing here assigns innerHTML: elements are built with el() and filled with textContent.
import { createPlayer, toYaml } from "/ui/vendor.js";  // the bundle of asciinema-player and yaml

const app = document.getElementById("app");
let session = null;

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "on") for (const [event, f] of Object.entries(v)) e.addEventListener(event, f);
    else if (v !== false && v !== null && v !== undefined) e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return e;
}

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (session && method !== "GET") headers["X-CSRF-Token"] = session.csrfToken;
  const r = await fetch("/ui/api/" + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
                                             credentials: "same-origin" });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(data.message || r.statusText), { status: r.status });
  return data;
}

function show(...nodes) { app.replaceChildren(...nodes); }

function loginPage(message) {
  const token = el("input", { type: "password", id: "token", autocomplete: "off", "aria-label": "token" });
  const form = el("form", { on: { submit: async (e) => {
    e.preventDefault();
    try { session = await api("POST", "login", { token: token.value }); route(); }
    catch (err) { show(loginPage(err.message)); }
  } } }, el("label", { for: "token" }, "Token "), token, " ", el("button", { type: "submit" }, "Log in"));
  // The identity providers first: their login comes back to the page the reviewer opened.
  const providers = el("p", { id: "providers" });
  api("GET", "login/options").then((o) => {
    const back = encodeURIComponent(location.pathname + location.search);
    providers.replaceChildren(...o.oidc.map((p) => el("a", { class: "button", href:
      `/ui/login/oidc?provider=${p.id}&return=${back}` }, "Log in with " + p.name)));
  }).catch(() => {});
  return el("section", {}, el("h1", {}, "Log in"), message ? el("p", { class: "error" }, message) : "", providers,
            el("p", {}, "Or with a token (a static token or a bearer token the gateway accepts):"), form);
}

function timeLeft(expiresAt) {
  const s = Math.round((Date.parse(expiresAt) - Date.now()) / 1000);
  return s <= 0 ? "expired" : s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}

function what(a) {
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const ns = a.namespace && a.resource !== "namespaces" ? " -n " + a.namespace : "";  // a namespace is its own namespace
  return `${a.verb} ${resource}${ns}${a.name ? " " + a.name : ""}`;
}

const STATES = ["pending", "approved", "executed", "rejected", "expired", "cancelled", "all"];

// The queue's filters live in the address (/ui/?state=pending&cluster=prod&requester=bot&rule=x),
// so a filtered view is a link too. state, cluster and requester go to the API; rule is matched here.
function filters() {
  const q = new URLSearchParams(location.search);
  return { state: STATES.includes(q.get("state")) ? q.get("state") : "pending", cluster: q.get("cluster") || "",
           requester: q.get("requester") || "", rule: q.get("rule") || "" };
}

function filterForm(f) {
  const field = (name, label) => [el("label", { for: "f-" + name }, label + " "),
    el("input", { id: "f-" + name, name, value: f[name], size: 12 }), " "];
  const state = el("select", { id: "f-state", name: "state" },
    ...STATES.map((s) => el("option", { value: s, selected: s === f.state }, s)));
  return el("form", { id: "filters", on: { submit: (e) => {
    e.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(e.currentTarget)) if (v && !(k === "state" && v === "pending")) q.set(k, v);
    history.pushState(null, "", "/ui/" + (q.toString() ? "?" + q : ""));
    route();
  } } }, el("label", { for: "f-state" }, "State "), state, " ", ...field("cluster", "Cluster"),
    ...field("requester", "Requester"), ...field("rule", "Rule"), el("button", { type: "submit" }, "Filter"));
}

async function queuePage() {
  const f = filters();
  const q = new URLSearchParams({ limit: "200" });
  if (f.state !== "all") q.set("state", f.state);
  if (f.cluster) q.set("cluster", f.cluster);
  if (f.requester) q.set("requester", f.requester);
  const list = await api("GET", "approvals?" + q);
  // Newest first from the API; pending ones before the rest.
  const items = list.items.filter((a) => !f.rule || a.rule === f.rule)
    .sort((x, y) => (x.state === "pending" ? 0 : 1) - (y.state === "pending" ? 0 : 1));
  const rows = items.map((a) => el("tr", {},
    el("td", {}, el("a", { href: "/ui/approvals/" + a.id, "data-id": a.id, on: { click: go } }, what(a))),
    el("td", {}, a.requester.username), el("td", {}, a.cluster), el("td", {}, a.rule), el("td", {}, a.state),
    el("td", {}, a.state === "pending" ? timeLeft(a.expiresAt) : ""),
    el("td", {}, `${a.votes.filter((v) => v.vote === "approve").length} of ${a.minApprovals}`)));
  const title = f.state === "pending" ? "Pending approvals" : f.state === "all" ? "All approvals" : `Approvals: ${f.state}`;
  return el("section", {}, el("h1", {}, title), filterForm(f),
    rows.length ? el("table", {}, el("thead", {}, el("tr", {}, ...["Request", "Requester", "Cluster", "Rule", "State", "Time left",
      "Votes"].map((h) => el("th", {}, h)))), el("tbody", {}, ...rows)) : el("p", {}, "Nothing matches."));
}

// What a delete takes with it: the live object, or for a namespace or a collection what goes along.
function previewView(p) {
  const parts = [];
  if (p.kind === "delete" && p.live) parts.push(el("h2", {}, "The object it deletes"), el("pre", { id: "live" }, readable(JSON.stringify(p.live))));
  if (p.kind === "namespaceDelete" || p.kind === "deletecollection") {
    const groups = Object.entries(p.deletes || {}).filter(([, d]) => d.count > 0);
    parts.push(el("h2", {}, `It would delete ${p.count} object${p.count === 1 ? "" : "s"}`),
      el("ul", { id: "blast-radius" }, ...groups.map(([resource, d]) =>
        el("li", {}, `${resource}: ${d.count}${d.countIsLowerBound ? "+" : ""} (${d.names.join(", ")})`))));
  }
  if (p.errors && p.errors.length)
    parts.push(el("p", { class: "error" }, "The preview is incomplete: " + p.errors.join("; ")));
  return parts.length ? el("section", { id: "preview" }, ...parts) : "";
}

// A unified diff, one line per element, coloured by what the line does (text only, as ever).
function diffView(diff) {
  const kind = (line) => line.startsWith("+++") || line.startsWith("---") ? "file" : line.startsWith("@@") ? "hunk"
    : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "same";
  return el("pre", { id: "diff", class: "diff" },
    ...diff.split("\n").map((line) => el("span", { class: kind(line) }, line + "\n")));
}

async function approvalPage(id) {
  const a = await api("GET", "approvals/" + encodeURIComponent(id));
  const reason = el("input", { id: "reason", "aria-label": "reason" });
  const status = el("p", { role: "status" });
  const decide = (verb) => async () => {
    try {
      await api("POST", `approvals/${encodeURIComponent(id)}/${verb}`, { reason: reason.value });
      history.pushState(null, "", "/ui/");  // decided: back to what still waits
      route();
    }
    catch (err) { status.textContent = err.message; status.className = "error"; }
  };
  return el("section", {}, el("h1", {}, what(a)),
    el("p", { id: "requester" }, `${a.requester.username} (${a.requester.authMethod}; groups ${a.requester.groups.join(", ")}) on ` +
      `${a.cluster}` + (a.requester.sourceIP ? `, from ${a.requester.sourceIP}` : "") +
      (a.requester.userAgent ? ` with ${a.requester.userAgent}` : "")),
    a.kubectlCommand ? el("p", {}, "The client's words (unverified): ", el("code", {}, a.kubectlCommand)) : "",
    el("p", {}, `Rule ${a.rule}${a.message ? ": " + a.message : ""}. State ${a.state}, expires in ${timeLeft(a.expiresAt)}.`),
    a.preview && a.preview.diff ? diffView(a.preview.diff) : "",
    a.preview ? previewView(a.preview) : "",
    // A body the gateway could not show ("(100 bytes of protobuf)") says nothing the diff does not.
    a.requestBody && !(a.preview?.diff && a.requestBody.startsWith("("))
      ? el("section", {}, el("h2", {}, "The manifest (masked)"), el("pre", { id: "body" }, asYaml(a.requestBody))) : "",
    el("ul", {}, ...a.votes.map((v) => el("li", {}, `${v.vote} by ${v.approver}${v.reason ? ": " + v.reason : ""}`))),
    a.state === "pending" ? decisionControls(a, reason, decide) : "",
    status);
}

// A JSON manifest as YAML, as a reviewer reads manifests (a patch or other text as it came).
function asYaml(body) {
  try {
    const v = JSON.parse(body);
    return typeof v === "object" && v !== null ? toYaml(v, { lineWidth: 0 }) : readable(body);
  } catch { return body; }
}

// A JSON body indented, its escapes (\u003c) read back: what the request says, as text.
function readable(body) {
  try { return JSON.stringify(JSON.parse(body), null, 2); } catch { return body; }
}

// Why this reviewer may not decide, in the words the page shows ("" when they may). The gateway
// checks the same rules again on every vote; this only saves a reviewer the refusal.
function whyNot(a) {
  if (a.requester.username === session.user) return "You requested this: someone else decides.";
  const approver = a.approvers.users.includes(session.user) || a.approvers.groups.some((g) => session.groups.includes(g));
  if (!approver) return `You are not an approver for rule ${a.rule}.`;
  const approvals = a.votes.filter((v) => v.vote === "approve");
  if (approvals.some((v) => v.approver === session.user))
    return `Already approved by you, ${approvals.length} of ${a.minApprovals}.`;
  return "";
}

function decisionControls(a, reason, decide) {
  const why = whyNot(a);
  const disabled = why !== "";
  return el("div", {},
    el("p", {}, el("label", { for: "reason" }, "Reason "), Object.assign(reason, { disabled }), " ",
      el("button", { id: "approve", disabled, "aria-describedby": "why", on: { click: decide("approve") } }, "Approve"), " ",
      el("button", { id: "reject", disabled, "aria-describedby": "why", on: { click: decide("reject") } }, "Reject")),
    why ? el("p", { id: "why", class: "why" }, why) : "");
}

async function sessionsPage() {
  const q = new URLSearchParams(location.search);
  const api_q = new URLSearchParams({ limit: "200" });
  for (const k of ["user", "cluster", "since"]) if (q.get(k)) api_q.set(k, q.get(k));
  const list = await api("GET", "sessions?" + api_q);
  const rows = [...list.items].reverse().map((x) => el("tr", {},  // newest first
    el("td", {}, el("a", { href: "/ui/sessions/" + x.id, on: { click: go } }, x.kubectlCommand || "(no command)")),
    el("td", {}, x.user), el("td", {}, x.cluster), el("td", {}, x.startedAt), el("td", {}, String(x.exchanges)),
    el("td", {}, String(x.execSessions))));
  return el("section", {}, el("h1", {}, "Recorded sessions"),
    rows.length ? el("table", { id: "sessions" }, el("thead", {}, el("tr", {}, ...["Command", "User", "Cluster", "Started",
      "Exchanges", "Execs"].map((h) => el("th", {}, h)))), el("tbody", {}, ...rows)) : el("p", {}, "No recordings match."));
}

// Audit search: audit list's filters in the address (/ui/audit?user=bot&verb=delete&since=1h), so a
// search is a link; "Older" follows the API's keyset token; the export link takes the same window.
const AUDIT_FILTERS = [["cluster", "Cluster"], ["user", "User"], ["verb", "Verb"], ["resource", "Resource"],
  ["namespace", "Namespace"], ["since", "Since"], ["until", "Until"]];

function auditRow(e) {
  const resource = e.subresource ? `${e.resource}/${e.subresource}` : e.resource || e.requestURI;
  return el("tr", {}, el("td", {}, e.receivedAt), el("td", {}, e.cluster), el("td", {}, e.user.username),
    el("td", {}, e.verb), el("td", {}, resource), el("td", {}, e.namespace), el("td", {}, e.name),
    el("td", {}, e.responseCode ?? ""), el("td", {}, e.decision), el("td", {}, e.kubectlCommand));
}

async function auditPage() {
  const q = new URLSearchParams(location.search);
  if (!q.get("since") && !q.get("until")) q.set("since", "24h");
  const search = new URLSearchParams({ limit: "100" });
  for (const [k] of AUDIT_FILTERS) if (q.get(k)) search.set(k, q.get(k));
  const page = await api("GET", "audit?" + search);
  const body = el("tbody", {}, ...page.items.map(auditRow));
  const more = el("p", {});
  const older = (token) => {
    if (!token) return more.replaceChildren(page.items.length ? "End of the results." : "");
    const button = el("button", { id: "older", type: "button", on: { click: async () => {
      button.disabled = true;
      const next = await api("GET", "audit?" + new URLSearchParams([...search, ["continue", token]]));
      body.append(...next.items.map(auditRow));
      older(next.continue);
    } } }, "Older");
    more.replaceChildren(button);
  };
  older(page.continue);
  const window_ = new URLSearchParams();
  for (const k of ["since", "until"]) if (q.get(k)) window_.set(k, q.get(k));
  const verdict = el("p", { id: "verify-result", role: "status" });
  const verify = el("button", { id: "verify", type: "button", on: { click: async () => {
    verdict.textContent = "Checking…";
    try {
      const r = await api("GET", "audit/verify?" + window_);
      verdict.className = r.intact ? "" : "error";
      verdict.textContent = r.intact
        ? `Audit chain intact: ${r.rows} rows in ${r.chains} chain${r.chains === 1 ? "" : "s"}` +
          (r.unchained ? `; ${r.unchained} older rows carry no chain.` : ".")
        : "Audit chain BROKEN: " + r.broken;
    } catch (err) { verdict.className = "error"; verdict.textContent = err.message; }
  } } }, "Verify the hash chain");
  const form = el("form", { id: "audit-filters", class: "filters", on: { submit: (e) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(e.currentTarget)) if (v) next.set(k, v);
    history.pushState(null, "", "/ui/audit" + (next.toString() ? "?" + next : ""));
    route();
  } } }, ...AUDIT_FILTERS.flatMap(([name, label]) => [el("label", { for: "a-" + name }, label + " "),
    el("input", { id: "a-" + name, name, value: q.get(name) || "", size: 10 }), " "]),
    el("button", { type: "submit" }, "Search"));
  return el("section", {}, el("h1", {}, "Audit"), form,
    el("p", {}, el("a", { id: "export", href: "/ui/api/audit/export?" + window_, download: "sluice-audit.jsonl" },
      "Export this window as JSON lines"), " ", verify), verdict,
    page.items.length ? el("table", { id: "audit" }, el("thead", {}, el("tr", {}, ...["Time", "Cluster", "User", "Verb",
      "Resource", "Namespace", "Name", "Code", "Decision", "Command"].map((h) => el("th", {}, h)))), body)
      : el("p", {}, "No audit events match."), more);
}

// An exec's output as text, from its asciicast events ([time, "o", data] lines; a header line, as
// the export has, is skipped); the player comes with the bundle.
function transcript(cast) {
  return cast.split("\n").filter(Boolean).map((line) => {
    try {
      const ev = JSON.parse(line);
      return Array.isArray(ev) && ev[1] === "o" ? ev[2] : "";
    } catch { return ""; }
  }).join("");
}

// An exec: the player, fed by the asciicast endpoint, and its output as plain text below it.
function execView(e) {
  const player = el("div", { class: "player" });
  createPlayer(`/ui/api/sessions/${encodeURIComponent(e.id)}/asciicast`, player,
               { fit: "width", idleTimeLimit: 2, preload: true, controls: true });
  return el("div", {}, player, el("details", {}, el("summary", {}, "Output as text"),
    el("pre", { class: "transcript" }, transcript(e.asciicast || ""))));
}

function bodyText(b) {
  if (!b) return "";
  return b.text !== undefined ? readable(b.text) : `(${b.encoding || "binary"}, not shown)`;
}

async function sessionPage(id) {
  const x = await api("GET", "sessions/" + encodeURIComponent(id));
  return el("section", {}, el("h1", {}, x.kubectlCommand || "Session"),
    el("p", {}, `${x.user} on ${x.cluster}, ${x.startedAt} to ${x.lastAt}`),
    ...x.exchanges.map((e) => el("article", { class: "exchange" },
      el("h2", {}, `${e.method} ${e.requestURI} → ${e.responseCode ?? "…"}`),
      e.kind === "exec" ? execView(e)
        : el("div", {}, e.request.body && e.request.body.text ? el("pre", { class: "request" }, bodyText(e.request.body)) : "",
                        el("pre", { class: "response" }, bodyText(e.response.body))))));
}

function go(e) {
  e.preventDefault();
  history.pushState(null, "", e.currentTarget.getAttribute("href"));
  route();
}

// Live updates: the gateway sends an approval's id whenever it changes (held anywhere, voted,
// decided, expired); the page shown then reads it again. EventSource reconnects by itself.
let events = null;
function follow(onChange) {
  if (!events) {
    events = new EventSource("/ui/api/approvals/events");
    events.addEventListener("approval", (e) => follow.current && follow.current(JSON.parse(e.data).id));
    events.addEventListener("resync", () => follow.current && follow.current(null));
  }
  follow.current = onChange;
}
function unfollow() {
  if (events) events.close();
  events = null;
  follow.current = null;
}

let shown = 0;  // the latest render wins when answers arrive out of order
async function render(page) {
  const mine = ++shown;
  try {
    const node = await page();
    if (mine === shown) show(node);
  } catch (err) {
    if (mine === shown) show(el("p", { class: "error" }, err.message));
  }
}

// A live update renders the page again: what the reviewer is typing (a reason, the filters) and
// where the focus is stay as they were.
async function rerender(page) {
  const typed = [...app.querySelectorAll("input[id], select[id]")].map((e) => [e.id, e.value]);
  const focused = document.activeElement?.id;
  await render(page);
  for (const [id, value] of typed) {
    const e = document.getElementById(id);
    if (e && !e.disabled) e.value = value;
  }
  if (focused) document.getElementById(focused)?.focus();
}

async function route() {
  try {
    if (!session) session = await api("GET", "session");
  } catch (err) {
    if (err.status === 401) { session = null; unfollow(); return show(loginPage()); }
    return show(el("p", { class: "error" }, err.message));
  }
  document.getElementById("who").textContent = session.user;
  document.getElementById("logout").hidden = false;
  const m = location.pathname.match(/^\/ui\/approvals\/([^/]+)$/);
  const sm = location.pathname.match(/^\/ui\/sessions(?:\/([^/]+))?$/);
  if (location.pathname === "/ui/audit") {
    follow(() => {});
    await render(auditPage);
  } else if (sm) {
    follow(() => {});
    await render(() => (sm[1] ? sessionPage(decodeURIComponent(sm[1])) : sessionsPage()));
  } else if (m) {
    const id = decodeURIComponent(m[1]);
    follow((changed) => { if (changed === null || changed === id) rerender(() => approvalPage(id)); });
    await render(() => approvalPage(id));
  } else {
    follow(() => rerender(queuePage));
    await render(queuePage);
  }
}

document.getElementById("logout").addEventListener("click", async () => {
  await api("POST", "logout").catch(() => {});
  session = null;
  unfollow();
  document.getElementById("who").textContent = "";
  document.getElementById("logout").hidden = true;
  show(loginPage());
});
document.getElementById("home").addEventListener("click", go);
document.getElementById("sessions-link").addEventListener("click", go);
document.getElementById("audit-link").addEventListener("click", go);
window.addEventListener("popstate", route);
route();
