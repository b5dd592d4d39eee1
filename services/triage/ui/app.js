// The desk: sign-in, the queue and one conversation side by side (one at a time on a phone),
// keyboard shortcuts, and live updates (Server-Sent Events, polling while they are down).
import * as api from "./api.js";
import { fill, h } from "./dom.js";
import { ConversationView } from "./conversation.js";
import { IncidentView } from "./incidents.js";
import { PresenceBar } from "./presence.js";
import { Queue } from "./queue.js";
import { Search } from "./search.js";
import { Tags } from "./tags.js";
import { PersonPanel } from "./person.js";
import { countdown, duration, learnVocabulary, platformName, vocabulary } from "./format.js";
import { SecurityDialog, enrol } from "./security.js";
import { TeamView } from "./team.js";
import { StatsView } from "./stats.js";
import { TagPage } from "./tag_page.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 5000;
const LIVE_SAFETY_MS = 60000;
const STREAM_RETRY_MS = 30000;
const WIDE = window.matchMedia("(min-width: 900px)");

const revealed = new Set();
let me = null;

// ---- messages to the agent -------------------------------------------------------------

let announceTimer = null;
function announce(text) {
  const line = $("announce");
  line.textContent = "";
  // A fresh text node so screen readers announce a repeated message too.
  requestAnimationFrame(() => (line.textContent = text));
  clearTimeout(announceTimer);
  announceTimer = setTimeout(() => (line.textContent = ""), 8000);
}

/** An error the agent must see; stays until dismissed, the next success or another screen. */
function alertAgent(text) {
  if (!text) return clearAlert();
  const box = $("alert");
  box.hidden = false;
  fill(box, text, " ", h("button", { type: "button", className: "dismiss", on: { click: clearAlert } }, "Dismiss"));
}

function clearAlert() {
  $("alert").hidden = true;
  fill($("alert"));
}

// ---- screens ---------------------------------------------------------------------------

const queue = new Queue({
  list: $("queue-list"),
  count: $("queue-count"),
  empty: $("queue-empty"),
  filters: $("filters"),
  views: $("views"),
  revealed,
  onOpen: (id) => go(id),
});

const search = new Search({
  form: $("search"),
  input: $("search-q"),
  results: $("search-results"),
  empty: $("search-empty"),
  hide: [$("filters"), $("queue-list"), $("queue-empty")],
  say: (text) => say(text),
});

function say(text) {
  $("sr-status").textContent = text;
}

const tags = new Tags({
  filter: $("f-tag"), box: $("conv-tags"), announce, alert: alertAgent, changed: () => refreshQueue(),
});

const person = new PersonPanel({ root: $("person"), announce, alert: alertAgent });

const conversation = new ConversationView({
  revealed,
  announce,
  say,
  alert: alertAgent,
  changed: () => refreshQueue(),
  rendered: (view) => {
    tags.show(view);
    person.show(view);
  },
});

const incidents = new IncidentView({
  root: $("incident"),
  announce,
  alert: alertAgent,
  revealed,
  changed: () => refreshQueue(),
  showInQueue: (incident) => filterByIncident(incident),
});

const team = new TeamView({ root: $("team"), announce, alert: alertAgent });
const stats = new StatsView({ root: $("stats"), alert: alertAgent });
const tagPage = new TagPage({ root: $("tag-page"), announce, alert: alertAgent, changed: () => tags.load() });
const presence = new PresenceBar({
  select: $("presence"), team: $("on-now"), list: $("on-now-list"), announce, alert: alertAgent,
});

/** The queue shows only this incident's conversations (null: all again). */
function filterByIncident(incident) {
  $("f-incident").value = incident ? String(incident.id) : "";
  fill($("f-incident-label"), incident ? `Only incident “${incident.label}”` : "");
  $("f-incident-box").hidden = !incident;
  refreshQueue();
  if (incident) {
    announce(`The queue shows only the conversations of “${incident.label}”.`);
    if (!WIDE.matches) go(null);
    $("f-incident-clear").focus();
  }
}

$("f-incident-clear").addEventListener("click", () => {
  filterByIncident(null);
  announce("The queue shows every conversation again.");
});

function showLogin(reason) {
  me = null;
  stopLive();
  // Nothing of the last session stays in the page.
  queue.channels.clear();
  queue.render([], null);
  conversation.close();
  incidents.close();
  team.close();
  stats.close();
  tagPage.close();
  presence.close();
  filterByIncident(null);
  conversation.drafts.clear();
  revealed.clear();
  $("desk").hidden = true;
  $("account").hidden = true;
  $("live").hidden = true;
  $("enrol-screen").hidden = true;
  if ($("security").open) $("security").close();
  $("code-form").hidden = true;
  $("link-form").hidden = true;
  fill($("link-form")); // built when a link is opened: no second "Password" field otherwise
  $("login-form").hidden = false;
  $("login-screen").hidden = false;
  $("login-error").textContent = reason || "";
  $("email").focus();
}

/** Into the desk, or first through two-factor enrolment if the workspace requires it. */
async function enter(user) {
  if (user.enrolment_required) return showEnrolment();
  return showDesk(user);
}

async function showEnrolment() {
  me = null;
  stopLive();
  $("desk").hidden = true;
  $("account").hidden = true;
  $("login-screen").hidden = true;
  $("enrol-screen").hidden = false;
  $("enrol-title").focus();
  try {
    await enrol($("enrol-box"), async () => {
      $("enrol-screen").hidden = true;
      await enter(await api.me());
    });
  } catch (failure) {
    if (failure.status !== 401) fill($("enrol-box"), h("p", { className: "error", role: "alert" }, failure.message));
  }
}

async function showDesk(user) {
  me = user;
  $("link-form").hidden = true;
  fill($("link-form"));
  $("enrol-screen").hidden = true;
  conversation.me = user;
  person.me = user;
  incidents.me = user;
  team.me = user;
  $("team-link").hidden = user.role !== "admin";
  $("stats-link").hidden = user.role === "agent";
  $("tags-link").hidden = user.role === "agent";
  $("login-screen").hidden = true;
  $("desk").hidden = false;
  $("account").hidden = false;
  fill($("who"), user.display_name || user.email);
  // Busy until the first load is done: the rows may show before it is, and an agent may
  // already have moved (j, a click, a tab) by then.
  $("desk").setAttribute("aria-busy", "true");
  await Promise.all([
    refreshQueue(), conversation.loadSavedReplies(), loadVocabulary(), presence.show(user), tags.load(),
  ]);
  route();
  startLive();
  $("desk").removeAttribute("aria-busy");
  // Nothing is selected yet: the first j selects the most urgent conversation. Focus the
  // list only if the agent has not put the focus somewhere already.
  const untouched = !document.activeElement || document.activeElement === document.body;
  if (!conversation.id && untouched) $("queue-list").focus({ preventScroll: true });
}

api.whenSignedOut(() => showLogin("Your session has ended: sign in again."));
api.whenEnrolmentRequired(() => {
  if (!$("enrol-screen").hidden) return;
  showEnrolment();
});
new SecurityDialog({ announce });

let pendingToken = null;

/** After a first proof (a password, a one-time link): the desk, or the code step. */
async function signedIn(answer, form) {
  if (answer.two_factor_required) {
    pendingToken = answer.pending_token;
    form.hidden = true;
    $("code-form").hidden = false;
    $("code-error").textContent = "";
    $("login-code").value = "";
    $("login-code").focus();
    return;
  }
  await enter(await api.me());
}

// ---- one-time links: #signin=…, #invitation=…, #set-password=… --------------------------

const LINK = /^#(signin|invitation|set-password)=([A-Za-z0-9_-]{1,200})$/;
let linkToken = null;

/** Open the link in the address bar, if any (true), dropping it from the address first. */
async function openLink() {
  const match = LINK.exec(location.hash);
  if (!match) return false;
  linkToken = match[2];
  history.replaceState(null, "", location.pathname + location.search);
  try {
    const link = await api.linkInfo(linkToken);
    if (!link.needs_password) {
      await signedIn(await api.acceptLink(linkToken), $("login-form"));
      return true;
    }
    showLinkForm(link);
  } catch (failure) {
    showLogin(failure.message);
  }
  return true;
}

function showLinkForm(link) {
  showLogin("");
  $("login-form").hidden = true;
  const joining = link.kind === "invitation";
  const field = (id, label, attrs) => [h("label", { for: id }, label), h("input", { id, ...attrs })];
  const form = fill($("link-form"),
    h("h2", { id: "link-title", tabIndex: -1 }, joining ? `Join ${link.workspace_name}` : "Set your password"),
    h("p", {}, joining
      ? `You are invited as ${link.role}. Choose a password to sign in.`
      : `A new password for ${link.workspace_name}.`),
    field("link-email", "E-mail", { name: "username", type: "email", autocomplete: "username", readOnly: true, value: link.email }),
    field("link-password", "New password (at least 12 characters)", {
      name: "password", type: "password", autocomplete: "new-password", minLength: 12, required: true,
    }),
    field("link-password-again", "The same password again", {
      name: "again", type: "password", autocomplete: "new-password", minLength: 12, required: true,
    }),
    h("p", { id: "link-error", className: "error", role: "alert" }),
    h("button", { type: "submit", className: "primary" }, "Set password and sign in"));
  form.hidden = false;
  $("link-password").focus();
}

$("link-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const error = $("link-error");
  const password = form.password.value;
  if (password.length < 12) error.textContent = "The password needs at least 12 characters.";
  else if (password !== form.again.value) error.textContent = "The two passwords differ.";
  else error.textContent = "";
  if (error.textContent) return form.password.focus();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const answer = await api.acceptLink(linkToken, password);
    linkToken = null;
    await signedIn(answer, form);
  } catch (failure) {
    error.textContent = failure.message;
  } finally {
    button.disabled = false;
  }
});

window.addEventListener("hashchange", () => {
  if (LINK.test(location.hash)) openLink();
});

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const email = form.email.value.trim();
  const password = form.password.value;
  const error = $("login-error");
  if (!email || !password) {
    error.textContent = "Enter your e-mail and password.";
    (email ? form.password : form.email).focus();
    return;
  }
  error.textContent = "";
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const workspace = $("workspace-choice").hidden ? null : form.workspace_id.value;
    const answer = await api.login(email, password, workspace);
    form.password.value = "";
    await signedIn(answer, form);
  } catch (failure) {
    if (failure.status === 409 && failure.problem.workspaces) {
      fill(form.workspace_id, failure.problem.workspaces.map((w) => h("option", { value: w }, w)));
      $("workspace-choice").hidden = false;
      form.workspace_id.focus();
    }
    error.textContent = failure.message;
    if (failure.status === 401) form.password.select();
  } finally {
    button.disabled = false;
  }
});

$("code-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("login-code");
  const error = $("code-error");
  const code = input.value.trim();
  if (!code) {
    error.textContent = "Enter the code.";
    input.focus();
    return;
  }
  const button = event.target.querySelector("button[type=submit]");
  button.disabled = true;
  error.textContent = "";
  try {
    await api.loginCode(pendingToken, code);
    pendingToken = null;
    input.value = "";
    await enter(await api.me());
  } catch (failure) {
    error.textContent = failure.message;
    input.select();
  } finally {
    button.disabled = false;
  }
});

$("code-back").addEventListener("click", () => {
  pendingToken = null;
  showLogin("");
});

$("enrol-sign-out").addEventListener("click", async () => {
  await api.logout().catch(() => {});
  showLogin("Signed out.");
});

$("sign-out").addEventListener("click", async () => {
  await api.logout().catch(() => {});
  location.hash = "";
  showLogin("Signed out.");
});

// ---- routing: #/c/<id> is an open conversation ----------------------------------------

function go(id, { replace = false } = {}) {
  const target = id ? `#/c/${id}` : "#/";
  if (location.hash !== target) history[replace ? "replaceState" : "pushState"](null, "", target);
  route();
}

function route() {
  if (!me) return;
  if (location.hash && !location.hash.startsWith("#/")) return; // an in-page link, not a screen
  const match = /^#\/c\/(\d+)$/.exec(location.hash);
  if ((match ? match[1] : null) !== conversation.id) clearAlert();
  const pages = { "#/team": team, "#/stats": stats, "#/tags": tagPage };
  if (pages[location.hash]) {
    document.body.dataset.view = "conversation";
    conversation.close();
    incidents.close();
    $("conversation-empty").hidden = true;
    for (const other of Object.values(pages)) if (other !== pages[location.hash]) other.close();
    pages[location.hash].show();
    return;
  }
  team.close();
  stats.close();
  tagPage.close();
  const incident = /^#\/i\/(\d+)$/.exec(location.hash);
  if (incident || location.hash === "#/incidents") {
    // An incident (or the list of them) takes the conversation pane.
    document.body.dataset.view = "conversation";
    conversation.close();
    $("conversation-empty").hidden = true;
    if (incident) incidents.open(incident[1]);
    else incidents.showList();
    return;
  }
  incidents.close();
  if (match) {
    document.body.dataset.view = "conversation";
    queue.select(match[1]);
    conversation.open(match[1]);
    if (!WIDE.matches) $("conv-title").focus();
  } else {
    document.body.dataset.view = "queue";
    conversation.close();
    if (!WIDE.matches) queue.select(queue.selectedId, { focus: true });
  }
}

// Links (#/c/<id>) and the browser's back button; route() is idempotent if both fire.
window.addEventListener("popstate", route);
window.addEventListener("hashchange", route);
$("back").addEventListener("click", () => go(null));
document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault();
  if (!WIDE.matches && conversation.id) go(null);
  (queue.selectedRow()?.querySelector(".row-link") || $("queue-list")).focus();
});
$("filters").addEventListener("change", () => refreshQueue());

// ---- data ------------------------------------------------------------------------------

/** The filters' platforms and intents, as the server names them (read once per page). */
async function loadVocabulary() {
  if (vocabulary.platforms.length) return;
  try {
    learnVocabulary(await api.vocabulary());
  } catch (error) {
    if (error.status !== 401) alertAgent(error.message);
    return;
  }
  offer($("f-platform"), vocabulary.platforms.map((p) => [p, platformName(p)]));
  offer($("f-intent"), vocabulary.intents.map((i) => [i, i]));
}

/** A filter's choices: its name (meaning any), then each value (the chosen one stays). */
function offer(select, values) {
  const chosen = select.value;
  fill(
    select,
    h("option", { value: "" }, select.dataset.any),
    values.map(([value, label]) => h("option", { value, selected: value === chosen }, label)),
  );
}

let queueLoading = null;
let queueAgain = false;
async function refreshQueue() {
  if (!me) return;
  if (queueLoading) {
    queueAgain = true;
    return queueLoading;
  }
  queueLoading = (async () => {
    try {
      const answer = await api.queue(queue.filters());
      queue.render(answer.items || [], me);
      if ($("alert").textContent.startsWith("The desk cannot reach")) clearAlert();
    } catch (error) {
      if (error.status !== 401) alertAgent(error.message);
    } finally {
      queueLoading = null;
    }
    if (queueAgain) {
      queueAgain = false;
      await refreshQueue();
    }
  })();
  return queueLoading;
}

// ---- live updates ----------------------------------------------------------------------

let stream = null;
let pollTimer = null;
let safetyTimer = null;
let streamRetry = null;

function setLive(mode) {
  const line = $("live");
  line.hidden = false;
  line.dataset.mode = mode;
  line.textContent = mode === "live" ? "Live" : "Updating every 5 s";
}

function startPolling() {
  if (pollTimer) return;
  setLive("polling");
  pollTimer = setInterval(() => {
    refreshQueue();
    conversation.refresh();
    incidents.refresh();
  }, POLL_MS);
}

function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = null;
}

function startLive() {
  stopLive();
  startPolling(); // until the stream says it is open
  safetyTimer = setInterval(() => refreshQueue(), LIVE_SAFETY_MS);
  if (!("EventSource" in window)) return;
  connectStream();
}

function connectStream() {
  stream = new EventSource("/v1/stream");
  stream.addEventListener("open", () => {
    stopPolling();
    setLive("live");
    refreshQueue(); // changes made while it was down
    conversation.refresh();
  });
  stream.addEventListener("change", (event) => {
    let data = {};
    try {
      data = JSON.parse(event.data);
    } catch {
      // an event we cannot read still means something changed
    }
    refreshQueue();
    if (!data.conversation_id || String(data.conversation_id) === conversation.id) conversation.refresh();
    incidents.refresh();
  });
  stream.addEventListener("error", () => {
    startPolling();
    refreshQueue(); // at once: a stream ended by a revoked session signs the desk out now
    if (stream.readyState === EventSource.CLOSED) {
      // Refused (no stream endpoint yet, or signed out): poll, and try again later.
      stream = null;
      clearTimeout(streamRetry);
      streamRetry = setTimeout(() => me && connectStream(), STREAM_RETRY_MS);
    }
  });
}

function stopLive() {
  stopPolling();
  clearInterval(safetyTimer);
  clearTimeout(streamRetry);
  stream?.close();
  stream = null;
}

// SLA countdowns tick here, once a second, from the time left the server last gave.
setInterval(() => {
  const now = Date.now();
  for (const el of document.querySelectorAll("time.countdown[data-left]")) {
    const elapsed = el.dataset.paused ? 0 : (now - Number(el.dataset.at)) / 1000;
    el.textContent = countdown(Number(el.dataset.left) - elapsed);
  }
  for (const el of document.querySelectorAll(".waited[data-since]")) {
    el.textContent = duration(Number(el.dataset.since) + (now - Number(el.dataset.at)) / 1000);
  }
}, 1000);

// ---- keyboard --------------------------------------------------------------------------

async function claimKey() {
  if (conversation.id) return conversation.claim();
  if (queue.selectedId) {
    go(queue.selectedId);
    return conversation.claim();
  }
  return claimNext();
}

async function claimNext() {
  try {
    const { conversation_id: id } = await api.claimNext();
    announce("You hold the most urgent conversation for 15 minutes.");
    go(id);
    await refreshQueue();
  } catch (error) {
    if (error.status === 404) announce("Nothing is waiting for an answer.");
    else alertAgent(error.message);
  }
}

$("claim-next").addEventListener("click", claimNext);

function openHelp() {
  const dialog = $("help");
  if (!dialog.open) dialog.showModal();
}

$("help-open").addEventListener("click", openHelp);

document.addEventListener("keydown", (event) => {
  if (!me || event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if ($("help").open || $("security").open) return; // dialogs close themselves on Esc
  const target = event.target;
  if (target.closest("input, textarea, select, [contenteditable]")) {
    if (event.key === "Escape") {
      target.blur();
      (queue.selectedRow()?.querySelector(".row-link") || $("queue-list")).focus();
    }
    return;
  }
  if (event.key === "Escape" && target.closest("#filters")) {
    // Out of the filter bar (a saved view's chip), back to the selected conversation's row.
    event.preventDefault();
    (queue.selectedRow()?.querySelector(".row-link") || $("queue-list")).focus();
    return;
  }
  const keys = {
    j: () => moveAndPreview(1),
    k: () => moveAndPreview(-1),
    o: () => queue.selectedId && go(queue.selectedId),
    n: () => claimNext(),
    c: () => claimKey(),
    r: () => replyKey(),
    e: () => conversation.id && conversation.setStatus("resolve"),
    "?": () => openHelp(),
    "/": () => search.focus(),
    Escape: () => (conversation.id || !$("incident").hidden || !$("team").hidden || !$("stats").hidden || !$("tag-page").hidden) && go(null),
  };
  const action = keys[event.key];
  if (!action) return;
  event.preventDefault();
  action();
});

function moveAndPreview(delta) {
  const id = queue.move(delta);
  // Side by side, the conversation follows the selection; on a phone it opens on Enter.
  if (id && WIDE.matches && conversation.id) go(id, { replace: true });
}

function replyKey() {
  if (!conversation.id && queue.selectedId) go(queue.selectedId);
  if (conversation.id || queue.selectedId) conversation.focusReply();
}

// ---- start -----------------------------------------------------------------------------

(async () => {
  if (await openLink()) return;
  try {
    await enter(await api.me());
  } catch (error) {
    showLogin(error.status === 401 ? "" : error.message);
  }
})();
