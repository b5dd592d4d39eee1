// One conversation: who holds it, its SLA clocks, the thread with triage decisions (and the
// agent's corrections), replies with their delivery state, notes, and the composers.
import * as api from "./api.js";
import { fill, h, randomKey, reconcile } from "./dom.js";
import {
  CLOCK_KINDS,
  REPLY_STATES,
  SLA_STATES,
  STATUSES,
  authorName,
  clockTime,
  percent,
  platformName,
  vocabulary,
} from "./format.js";
import { countdownElement, maybeBlurred, priorityBadge } from "./queue.js";
import { incidentBadge, startFromNote } from "./incidents.js";
import { filledSaved, showSuggestions } from "./suggestions.js";

const FIELDS = {
  intent: {
    label: "Intent",
    get values() {
      return vocabulary.intents.map((i) => [i, i]);
    },
  },
  needs_answer: { label: "Needs an answer", values: [["true", "yes"], ["false", "no"]] },
  abuse: { label: "Abusive", values: [["true", "yes"], ["false", "no"]] },
  priority: { label: "Priority", values: ["P1", "P2", "P3", "P4"].map((p) => [p, p]) },
};
const QUEUED_REFRESH_MS = 2000;
const QUEUED_PATIENCE_MS = 3 * 60 * 1000;
// A touch screen has no keyboard to hint at (the same test as desk.css's).
const TOUCH = window.matchMedia("(hover: none) and (pointer: coarse)");
const CHECK_DELAY_MS = 150; // the draft is measured by the server once typing pauses
const MODERATION_VERBS = {
  hide: { name: "Hide", doing: "Hiding", done: "Hidden" },
  unhide: { name: "Unhide", doing: "Showing again", done: "Visible again" },
  delete: { name: "Delete", doing: "Deleting", done: "Deleted" },
};
const MODERATION_TONE = { requested: "queued", done: "delivered", failed: "failed" };

/** Whether a reply here may go as Meta's private reply: the latest customer message is a
 *  Facebook or Instagram comment (or a reply to one); the server refuses it anywhere else. */
function privateReplyPossible(view) {
  const latest = [...(view.messages || [])].reverse().find((m) => m.direction !== "out");
  return ["facebook", "instagram"].includes(view.platform) && ["comment", "reply"].includes(latest?.kind);
}

function byId(id) {
  return document.getElementById(id);
}

export class ConversationView {
  constructor({ revealed, announce, alert, changed, say, rendered }) {
    this.revealed = revealed;
    this.announce = announce;
    this.say = say; // for screen readers only
    this.alert = alert;
    this.changed = changed; // the queue may have changed: refresh it
    this.rendered = rendered; // told each view shown (the tags' chips follow it)
    this.me = null;
    this.id = null;
    this.view = null;
    this.drafts = new Map();
    this.corrections = new Map(); // message id -> [{field, value}] made in this session
    this.openFixes = new Set();
    this.replyStates = new Map();
    this.confirmingDelete = null; // the message whose deletion awaits a second click
    this.savedReplies = [];
    this.queuedTimer = null;
    this.loading = null;

    this.pane = byId("conversation");
    this.placeholder = byId("conversation-empty");
    this.title = byId("conv-title");
    this.meta = byId("conv-meta");
    this.clocks = byId("clocks");
    this.thread = byId("thread");
    this.replyForm = byId("reply-form");
    this.replyText = byId("reply-text");
    this.replyLabel = byId("reply-label");
    this.replyHint = byId("reply-hint");
    this.replyCount = byId("reply-count");
    this.checked = null; // the last draft the server measured: {id, text, answer}
    this.checkTimer = null;
    this.warnings = byId("reply-warnings");
    this.sendButton = byId("send-reply");
    this.saved = byId("saved-reply");
    this.fromIncident = byId("from-incident");
    this.suggestions = byId("suggestions");
    this.incidentLine = byId("conv-incident");
    this.rulesLine = byId("conv-rules");
    this.noteForm = byId("note-form");
    this.noteText = byId("note-text");
    this.buttons = {
      claim: byId("act-claim"),
      release: byId("act-release"),
      resolve: byId("act-resolve"),
      wait: byId("act-wait"),
      reopen: byId("act-reopen"),
    };

    this.buttons.claim.addEventListener("click", () => this.claim());
    this.buttons.release.addEventListener("click", () => this.release());
    for (const action of ["resolve", "wait", "reopen"]) {
      this.buttons[action].addEventListener("click", () => this.setStatus(action));
    }
    this.replyForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendReply();
    });
    this.replyText.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.sendReply();
      }
    });
    this.replyText.addEventListener("input", () => {
      const draft = this.draft();
      draft.text = this.replyText.value;
      if (!draft.text.trim()) {
        draft.savedId = null;
        draft.incidentId = null;
        draft.suggestionId = null;
      }
      this.scheduleCheck();
    });
    this.saved.addEventListener("change", () => this.insertSaved());
    this.noteForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.addNote();
    });
  }

  draft(id = this.id) {
    if (!this.drafts.has(id)) {
      this.drafts.set(id, { text: "", savedId: null, incidentId: null, suggestionId: null, key: randomKey() });
    }
    return this.drafts.get(id);
  }

  async loadSavedReplies() {
    try {
      this.savedReplies = (await api.savedReplies()).items || [];
    } catch {
      this.savedReplies = [];
    }
    fill(
      this.saved,
      h("option", { value: "" }, this.savedReplies.length ? "Insert a saved reply…" : "No saved replies"),
      this.savedReplies.map((s) => h("option", { value: String(s.id) }, s.title)),
    );
    this.saved.disabled = !this.savedReplies.length;
  }

  insertSaved() {
    const chosen = this.savedReplies.find((s) => String(s.id) === this.saved.value);
    this.saved.value = "";
    if (!chosen) return;
    const box = this.replyText;
    const text = filledSaved(this.id, chosen.id) ?? chosen.text; // placeholders filled
    if (!box.value.trim()) {
      box.value = text;
    } else {
      const at = box.selectionStart ?? box.value.length;
      box.value = box.value.slice(0, at) + text + box.value.slice(box.selectionEnd ?? at);
    }
    const draft = this.draft();
    draft.text = box.value;
    draft.savedId = chosen.id;
    draft.incidentId = null;
    draft.suggestionId = null;
    box.focus();
    this.scheduleCheck();
    this.announce(`Inserted “${chosen.title}”: edit it before sending.`);
  }

  async open(id) {
    id = String(id);
    if (this.id !== id) {
      this.id = id;
      this.view = null;
      const draft = this.draft();
      this.replyText.value = draft.text;
      fill(this.warnings);
      this.checked = null;
      this.replyCount.textContent = "";
      this.replyCount.classList.remove("over");
      this.scheduleCheck();
      fill(this.title, "Loading…");
      fill(this.meta);
      fill(this.clocks);
      this.thread.replaceChildren();
      this.noteText.value = "";
    }
    this.pane.hidden = false;
    this.placeholder.hidden = true;
    await this.refresh();
  }

  close() {
    this.id = null;
    this.view = null;
    this.pane.hidden = true;
    this.placeholder.hidden = false;
    clearTimeout(this.queuedTimer);
  }

  /** Fetch and render. A call made while a fetch runs gets one more fetch after it (so a
   * refresh asked for after a write never shows the state from before it). */
  refresh() {
    if (!this.id) return Promise.resolve();
    if (this.loading && this.loadingId === this.id) {
      this.again = true;
      return this.loading;
    }
    const id = this.id;
    this.loadingId = id;
    this.loading = (async () => {
      do {
        this.again = false;
        try {
          const [view, sla] = await Promise.all([api.conversation(id), api.clocks(id)]);
          if (this.id === id) this.render(view, sla);
        } catch (error) {
          if (this.id === id) {
            if (error.status === 404) fill(this.title, "Conversation not found");
            this.alert(error.message);
          }
        }
      } while (this.again && this.id === id);
      if (this.loadingId === id) this.loading = null;
    })();
    return this.loading;
  }

  holder(view) {
    const live = view.assignee_id && view.claim_expires_at && new Date(view.claim_expires_at) > new Date();
    if (!live) return "none";
    return this.me && view.assignee_id === this.me.id ? "me" : "other";
  }

  render(view, sla) {
    const opened = !this.view;
    this.view = view;
    const first = (view.messages || []).find((m) => m.direction === "in");
    const who = authorName(first?.author);
    fill(this.title, h("span", { className: "who" }, who), ` on ${platformName(view.platform)}`);
    const holder = this.holder(view);
    const holderText = {
      me: `You hold it until ${clockTime(view.claim_expires_at)}`,
      other: `Held by ${view.assignee_name || "another agent"} until ${clockTime(view.claim_expires_at)}`,
      none: "Nobody holds it",
    }[holder];
    fill(
      this.meta,
      priorityBadge(view.priority),
      h("span", { className: `status status-${view.status}` }, STATUSES[view.status] || view.status),
      view.status !== "resolved" && !view.needs_answer ? h("span", { className: "no-answer" }, "no answer needed") : null,
      view.resolved_by_name ? h("span", { className: "resolved-by" }, `by ${view.resolved_by_name}`) : null,
      h("span", {}, `${view.channel} · ${view.kind}`),
      h("span", {}, `intent: ${view.intent || "—"}`),
      h("span", { className: `holder holder-${holder}`, id: "holder" }, holderText),
    );
    if (opened) {
      showSuggestions({
        container: this.suggestions,
        id: view.id,
        current: () => this.id,
        box: this.replyText,
        draft: () => this.draft(),
        changed: () => this.scheduleCheck(),
        announce: this.announce,
        privateReply: privateReplyPossible(view),
      });
      this.say(`${who} on ${platformName(view.platform)}: ${view.priority}, ${STATUSES[view.status] || view.status}. ${holderText}.`);
    }
    const open = view.status !== "resolved";
    this.buttons.claim.hidden = !open || holder === "me";
    this.buttons.release.hidden = holder !== "me";
    this.buttons.resolve.hidden = !open;
    this.buttons.wait.hidden = view.status !== "open";
    this.buttons.reopen.hidden = open;

    this.rendered?.(view);
    // What a rule did (its name, then the action): the conversation's reasons that no
    // message's triage gave.
    const triaged = new Set((view.messages || []).flatMap((m) => m.triage?.reasons || []));
    const ruled = (view.reasons || []).filter((r) => !triaged.has(r));
    this.rulesLine.hidden = !ruled.length;
    fill(this.rulesLine, ruled.map((r) => h("li", {}, r)));
    this.incidentLine.hidden = !view.incident;
    fill(this.incidentLine, view.incident ? incidentBadge(view.incident, "conv-incident-link") : null);
    startFromNote({
      button: this.fromIncident,
      box: this.replyText,
      incident: view.incident,
      draft: () => this.draft(),
      announce: this.announce,
    });

    this.replyLabel.textContent = `Reply to ${who}`;
    this.replyHint.textContent = !open
      ? "This conversation is resolved: reopen it to answer."
      : holder === "me"
        ? `${TOUCH.matches ? "" : "Ctrl+Enter sends. "}The reply goes out from the brand's account.`
        : holder === "other"
          ? `${view.assignee_name || "Another agent"} holds this conversation: you can add a note, not a reply.`
          : `Claim the conversation${TOUCH.matches ? "" : " (c)"} before you answer.`;

    this.renderClocks(sla?.clocks || []);
    this.renderThread(view);
    this.watchQueued(view);
  }

  renderClocks(clocks) {
    // The running clocks, then the latest few that stopped (met, missed or cancelled).
    const running = clocks.filter((c) => !c.stopped_at);
    const stopped = clocks.filter((c) => c.stopped_at).slice(-3).reverse();
    if (!clocks.length) {
      fill(this.clocks, h("li", {}, "No SLA clock runs for this conversation."));
      return;
    }
    fill(
      this.clocks,
      [...running, ...stopped].map((clock) =>
        h(
          "li",
          { className: `clock sla-${clock.state}` },
          h("span", { className: "clock-kind" }, CLOCK_KINDS[clock.kind] || clock.kind),
          " ",
          h("span", { className: "sla-state" }, SLA_STATES[clock.state] || clock.state),
          clock.stopped_at
            ? ` · stopped ${clockTime(clock.stopped_at)}`
            : [" · due ", clockTime(clock.due_at), " · ", countdownElement(clock, `clock-${clock.id}`)],
        ),
      ),
    );
  }

  renderThread(view) {
    const replyTexts = new Set((view.replies || []).map((r) => r.text.trim()));
    const items = [];
    for (const m of view.messages || []) {
      // A delivered reply comes back as an outbound message: show it once, as the reply.
      if (m.direction === "out" && replyTexts.has((m.text || "").trim())) continue;
      items.push({ type: "m", at: m.created_at, data: m });
    }
    for (const r of view.replies || []) items.push({ type: "r", at: r.created_at, data: r });
    for (const n of view.notes || []) items.push({ type: "n", at: n.created_at, data: n });
    items.sort((a, b) => new Date(a.at) - new Date(b.at));
    for (const item of items) {
      if (item.type === "r") {
        const before = this.replyStates.get(item.data.id);
        if (before && before !== item.data.state) {
          this.announce(`Reply ${REPLY_STATES[item.data.state]?.toLowerCase() || item.data.state}.`);
        }
        this.replyStates.set(item.data.id, item.data.state);
      }
    }
    reconcile(
      this.thread,
      items,
      (item) => `${item.type}${item.data.id}`,
      (item) => this.item(item),
      (item) =>
        JSON.stringify([
          item.data,
          this.revealed.has(String(item.data.id)),
          this.corrections.get(String(item.data.id)),
          this.openFixes.has(String(item.data.id)),
          this.me?.id,
          this.confirmingDelete === item.data.id,
        ]),
    );
  }

  item({ type, data }) {
    if (type === "r") return this.replyItem(data);
    if (type === "n") {
      return h(
        "li",
        { className: "item note" },
        h(
          "article",
          { "aria-label": "Internal note" },
          h("header", { className: "item-head" }, h("span", { className: "who" }, "Internal note"), " ", h("time", { dateTime: data.created_at }, clockTime(data.created_at))),
          h("p", { className: "text" }, data.text),
        ),
      );
    }
    return this.messageItem(data);
  }

  replyItem(reply) {
    const mine = this.me && reply.author_id === this.me.id;
    const state = reply.state;
    return h(
      "li",
      { className: `item reply reply-${state}` },
      h(
        "article",
        { "aria-label": mine ? "Your reply" : `${reply.author_name || "An agent"}'s reply` },
        h(
          "header",
          { className: "item-head" },
          h("span", { className: "who" }, mine ? "You replied" : `${reply.author_name || "An agent"} replied`),
          " ",
          h("time", { dateTime: reply.created_at }, clockTime(reply.created_at)),
          " ",
          h("span", { className: `reply-state state-${state}` }, REPLY_STATES[state] || state),
          reply.private ? h("span", { className: "reply-private" }, " · sent privately") : null,
        ),
        h("p", { className: "text" }, reply.text),
        state === "failed"
          ? h(
              "p",
              { className: "failure" },
              `Not delivered: ${reply.failure_reason || "unknown reason"}`,
              reply.failure_detail ? ` — ${reply.failure_detail}` : "",
            )
          : null,
      ),
    );
  }

  messageItem(m) {
    const inbound = m.direction !== "out";
    const who = inbound ? authorName(m.author) : "The brand, on the platform";
    const whoId = `m${m.id}-who`;
    return h(
      "li",
      { className: `item msg ${inbound ? "in" : "out"}` },
      h(
        "article",
        { "aria-labelledby": whoId },
        h(
          "header",
          { className: "item-head" },
          h("span", { className: "who", id: whoId }, who),
          " ",
          h("span", { className: "kind" }, m.kind),
          " ",
          h("time", { dateTime: m.created_at }, clockTime(m.created_at)),
          m.held ? h("span", { className: "held" }, " · held for review, not public") : null,
        ),
        maybeBlurred("p", m.text, {
          abusive: Boolean(m.triage?.abuse),
          messageId: m.id,
          revealed: this.revealed,
          id: `m${m.id}-text`,
        }),
        inbound && m.moderation ? this.moderationLine(m.moderation) : null,
        inbound ? this.moderationActions(m) : null,
        inbound && m.triage ? this.triageBlock(m) : null,
      ),
    );
  }

  /** What the platform was asked to do to the comment, and what it answered. */
  moderationLine(mod) {
    const where = platformName(this.view?.platform);
    const verb = MODERATION_VERBS[mod.action] || MODERATION_VERBS.hide;
    const text = {
      requested: `${verb.doing} on ${where}…`,
      done: `${verb.done} on ${where}`,
      failed: `${verb.name} failed: ${mod.failure_detail || mod.failure_reason || "unknown reason"}`,
    }[mod.state];
    const by = mod.requested_by_name ? ` (asked by ${mod.requested_by_name})` : "";
    return h(
      "p",
      { className: `moderation moderation-${mod.state}`, role: "status" },
      h("span", { className: `reply-state state-${MODERATION_TONE[mod.state]}` }, text),
      by,
    );
  }

  /** Hide / Unhide / Delete, for leads and admins, on the comments the platform can act on. */
  moderationActions(m) {
    const allowed = m.moderation_actions || [];
    if (!["lead", "admin"].includes(this.me?.role) || !allowed.length) return null;
    const pending = m.moderation?.state === "requested";
    const hidden = m.moderation?.visibility === "hidden";
    const where = platformName(this.view?.platform);
    if (this.confirmingDelete === m.id) {
      return h(
        "div",
        { className: "moderate confirm", role: "group", "aria-label": "Confirm the deletion" },
        h("p", { className: "warning" }, `Delete this comment on ${where} for good? It cannot be undone.`),
        h("button", { type: "button", className: "danger", on: { click: () => this.moderate(m, "delete") } }, "Delete for good"),
        h("button", { type: "button", on: { click: () => this.confirmDelete(null, m) } }, "Cancel"),
      );
    }
    const button = (action, label, onClick) =>
      allowed.includes(action)
        ? h("button", { type: "button", disabled: pending, on: { click: onClick } }, label)
        : null;
    return h(
      "div",
      { className: "moderate", role: "group", "aria-label": `Moderate on ${where}` },
      hidden
        ? button("unhide", "Unhide", () => this.moderate(m, "unhide"))
        : button("hide", "Hide", () => this.moderate(m, "hide")),
      button("delete", "Delete…", () => this.confirmDelete(m.id, m)),
    );
  }

  confirmDelete(messageId, m) {
    this.confirmingDelete = messageId;
    this.renderThread(this.view);
    const group = this.thread.querySelector(`[aria-labelledby="m${m.id}-who"] .moderate button`);
    group?.focus();
  }

  moderate(m, action) {
    this.confirmingDelete = null;
    const where = platformName(this.view?.platform);
    const said = `${MODERATION_VERBS[action].doing} on ${where}: the message shows when it is done.`;
    return this.act(() => api.moderate(this.id, m.id, action), said);
  }

  triageBlock(m) {
    const t = m.triage;
    const id = String(m.id);
    const made = [...(m.corrections || []), ...(this.corrections.get(id) || [])];
    const formId = `fix-${id}`;
    const open = this.openFixes.has(id);
    const toggle = h(
      "button",
      {
        type: "button",
        className: "fix-toggle",
        id: `fix-toggle-${id}`,
        "aria-expanded": String(open),
        "aria-controls": formId,
        on: {
          click: () => {
            if (this.openFixes.has(id)) this.openFixes.delete(id);
            else this.openFixes.add(id);
            this.renderThread(this.view);
            const target = this.openFixes.has(id) ? `#${formId} select` : `#fix-toggle-${id}`;
            this.thread.querySelector(target)?.focus();
          },
        },
      },
      "Correct triage",
    );
    return h(
      "section",
      { className: "triage", "aria-label": "Triage" },
      h(
        "p",
        { className: "triage-line" },
        h("span", { className: "label" }, "Triage: "),
        priorityBadge(t.priority),
        ` ${t.intent} · ${t.needs_answer ? "needs an answer" : "no answer needed"}`,
        t.abuse ? " · abusive" : "",
        t.confidence !== null && t.confidence !== undefined ? ` · ${percent(t.confidence)} sure` : "",
      ),
      t.reasons?.length
        ? h("ul", { className: "reasons", "aria-label": "Why" }, t.reasons.map((r) => h("li", {}, r)))
        : null,
      made.length
        ? h(
            "ul",
            { className: "corrections", "aria-label": "Corrections" },
            made.map((c) =>
              h("li", {}, `Corrected: ${FIELDS[c.field]?.label || c.field} → ${String(c.new_value ?? c.value)}`),
            ),
          )
        : null,
      h("p", { className: "model" }, `model ${t.model_version || "rules"}`, " "),
      toggle,
      open ? this.fixForm(m, formId) : null,
    );
  }

  fixForm(m, formId) {
    const id = String(m.id);
    const fieldSelect = h(
      "select",
      { name: "field", id: `${formId}-field` },
      Object.entries(FIELDS).map(([name, f]) => h("option", { value: name }, f.label)),
    );
    const valueSelect = h("select", { name: "value", id: `${formId}-value` });
    const current = (field) => {
      const t = m.triage;
      if (field === "priority") return t.priority;
      if (field === "intent") return t.intent;
      return String(Boolean(t[field]));
    };
    const fillValues = () => {
      const field = fieldSelect.value;
      fill(
        valueSelect,
        FIELDS[field].values.map(([value, label]) =>
          h("option", { value, selected: value === current(field) }, label),
        ),
      );
    };
    fieldSelect.addEventListener("change", fillValues);
    fillValues();
    const statusLine = h("p", { className: "fix-status", role: "status" });
    const form = h(
      "form",
      {
        className: "fix",
        id: formId,
        "aria-label": "Correct the triage of this message",
        on: {
          submit: async (event) => {
            event.preventDefault();
            const field = fieldSelect.value;
            const raw = valueSelect.value;
            const value = field === "needs_answer" || field === "abuse" ? raw === "true" : raw;
            statusLine.textContent = "Saving…";
            try {
              await api.correct(m.id, field, value);
              const list = this.corrections.get(id) || [];
              list.push({ field, value: raw === "true" ? "yes" : raw === "false" ? "no" : raw });
              this.corrections.set(id, list);
              this.openFixes.delete(id);
              this.announce(`Correction saved: ${FIELDS[field].label.toLowerCase()} is now ${valueSelect.selectedOptions[0].text}.`);
              this.renderThread(this.view);
              this.thread.querySelector(`#fix-toggle-${id}`)?.focus();
              this.changed();
            } catch (error) {
              statusLine.textContent = `Not saved: ${error.message}`;
            }
          },
        },
      },
      h("label", { for: fieldSelect.id }, "What to correct"),
      fieldSelect,
      h("label", { for: valueSelect.id }, "Correct value"),
      valueSelect,
      h("button", { type: "submit" }, "Save correction"),
      statusLine,
    );
    return form;
  }

  watchQueued(view) {
    clearTimeout(this.queuedTimer);
    const now = Date.now();
    const recent = (at) => now - new Date(at).getTime() < QUEUED_PATIENCE_MS;
    const waiting =
      (view.replies || []).some((r) => r.state === "queued" && recent(r.created_at)) ||
      (view.messages || []).some((m) => m.moderation?.state === "requested" && recent(m.moderation.requested_at));
    if (waiting) this.queuedTimer = setTimeout(() => this.refresh(), QUEUED_REFRESH_MS);
  }

  async act(work, done) {
    if (!this.id) return;
    try {
      await work();
      this.alert(null);
      if (done) this.announce(done);
    } catch (error) {
      this.alert(error.message);
    }
    await this.refresh();
    this.changed();
  }

  claim() {
    return this.act(() => api.claim(this.id), "You hold this conversation for 15 minutes.");
  }

  release() {
    return this.act(() => api.release(this.id), "Released: another agent can take it.");
  }

  setStatus(action) {
    const said = { resolve: "Resolved.", wait: "Waiting on the customer.", reopen: "Reopened." };
    return this.act(() => api.status(this.id, action), said[action]);
  }

  focusReply() {
    this.replyText.focus();
  }

  scheduleCheck() {
    clearTimeout(this.checkTimer);
    this.checkTimer = setTimeout(() => this.checkDraft(), CHECK_DELAY_MS);
  }

  /** The draft as the server measures it (the platform's limit, counted the platform's way)
   * with the warnings sending it would bring; null when it cannot say. */
  async checkDraft({ warnings = true } = {}) {
    clearTimeout(this.checkTimer);
    const id = this.id;
    const text = this.replyText.value;
    if (!id) return null;
    if (this.checked?.id === id && this.checked.text === text) return this.checked.answer;
    let answer;
    try {
      answer = await api.replyCheck(id, text);
    } catch {
      return null;
    }
    if (this.id === id) {
      this.checked = { id, text, answer };
      if (this.replyText.value === text) this.showCheck(answer, warnings);
    }
    return answer;
  }

  showCheck(answer, warnings = true) {
    const unit = answer.unit === "bytes" ? "bytes" : "characters";
    this.replyCount.textContent =
      answer.limit === null ? "" : `${answer.length.toLocaleString()} / ${answer.limit.toLocaleString()} ${unit}`;
    this.replyCount.classList.toggle("over", answer.over);
    this.sendButton.setAttribute("aria-disabled", String(answer.over));
    if (!warnings) return;
    fill(
      this.warnings,
      answer.over ? h("p", { className: "warning over" }, answer.refusal) : null,
      answer.warnings.map((w) => h("p", { className: "warning" }, w)),
    );
  }

  async sendReply() {
    if (!this.id || this.sending) return;
    const id = this.id;
    const draft = this.draft(id);
    const text = this.replyText.value;
    if (!text.trim()) {
      this.alert("Write a reply first.");
      this.replyText.focus();
      return;
    }
    this.sending = true;
    this.sendButton.disabled = true;
    // Over the platform's limit, it is refused here, before it leaves (the server would too).
    const check = await this.checkDraft();
    if (check?.over) {
      this.sending = false;
      this.sendButton.disabled = false;
      this.alert(`Reply not sent: ${check.refusal}`);
      this.replyText.focus();
      return;
    }
    fill(this.warnings);
    try {
      // The same key until the server has it: a double submit or a retry stores one reply.
      const answer = await api.reply(
        id, text, draft.key, draft.savedId, draft.incidentId, draft.suggestionId, draft.private,
      );
      this.drafts.delete(id);
      this.alert(null);
      if (this.id === id) {
        this.replyText.value = "";
        const privately = this.suggestions.querySelector("#send-private");
        if (privately) privately.checked = false; // the next reply starts public again
        fill(this.warnings, (answer.warnings || []).map((w) => h("p", { className: "warning" }, w)));
      }
      this.announce(answer.warnings?.length ? "Reply queued, with a warning." : "Reply queued for delivery.");
      if (this.id === id) this.checkDraft({ warnings: false }); // the counter, for the empty box
    } catch (error) {
      this.alert(`Reply not sent: ${error.message}`);
    } finally {
      this.sending = false;
      this.sendButton.disabled = false;
    }
    await this.refresh();
    this.changed();
  }

  async addNote() {
    const text = this.noteText.value;
    if (!this.id || !text.trim()) return;
    try {
      await api.note(this.id, text);
      this.noteText.value = "";
      this.announce("Note added.");
    } catch (error) {
      this.alert(`Note not added: ${error.message}`);
    }
    await this.refresh();
  }
}
