// The queue: conversations waiting for an answer in the server's order (SLA state, then
// priority, then deadline), with live SLA countdowns, the reasons triage gave, and filters.
import { h, reconcile } from "./dom.js";
import { SLA_STATES, authorName, countdown, duration, platformName } from "./format.js";
import { incidentBadge } from "./incidents.js";
import { queueTags } from "./tags.js";

/** The countdown element every screen uses; app.js ticks every `.countdown` once a second. */
export function countdownElement(sla, id) {
  const left = sla?.time_left_seconds;
  const paused = sla?.state === "paused";
  return h(
    "time",
    {
      className: "countdown",
      id,
      dateTime: sla?.due_at || "",
      dataset: left === null || left === undefined ? {} : { left: String(left), at: String(Date.now()), paused: paused ? "1" : "" },
    },
    countdown(left),
  );
}

export function slaBadge(sla, countdownId) {
  const state = sla?.state || "none";
  return h(
    "span",
    { className: `sla sla-${state}` },
    h("span", { className: "sla-state" }, SLA_STATES[state] || state),
    state === "none" ? null : [" · ", countdownElement(sla, countdownId)],
  );
}

export function priorityBadge(priority) {
  return h("span", { className: `badge ${priority}`, title: `Priority ${priority}` }, priority);
}

/**
 * Abusive text, blurred and hidden from assistive technology until the agent reveals it.
 * `revealed` is the shared set of revealed message ids.
 */
export function maybeBlurred(tag, text, { abusive, messageId, revealed, className, id }) {
  const body = h(tag, { className: `text ${className || ""}`.trim(), id }, text || "");
  if (!abusive || revealed.has(String(messageId))) return body;
  body.classList.add("blurred");
  body.setAttribute("aria-hidden", "true");
  body.inert = true;
  const button = h(
    "button",
    {
      type: "button",
      className: "reveal",
      "aria-expanded": "false",
      on: {
        click: (event) => {
          event.stopPropagation();
          revealed.add(String(messageId));
          body.classList.remove("blurred");
          body.removeAttribute("aria-hidden");
          body.inert = false;
          note.remove();
          button.remove();
        },
      },
    },
    "Reveal abusive text",
  );
  const note = h("span", { className: "abuse-note" }, "Abusive text hidden. ");
  return h("div", { className: "abusive" }, note, body, button);
}

/** What a row shows of a message: its first non-empty line (the rest is in the thread). */
function firstLine(text) {
  return (text || "").trim().split("\n", 1)[0];
}

function steady(item) {
  const { waiting_seconds: _waited, ...rest } = item;
  return { ...rest, sla: { ...item.sla, time_left_seconds: undefined } };
}

// "incident" is set from an incident's view (a hidden field); the server applies it.
const FILTER_NAMES = [
  "priority", "state", "platform", "intent", "language", "mine", "unassigned", "channel", "incident", "tag",
];
const LANGUAGE_VIEWS = [["en", "English"], ["fr", "French"]];

export class Queue {
  constructor({ list, count, empty, filters, views, onOpen, revealed }) {
    this.views = views;
    this.channels = new Set(); // every channel the queue has shown: one view each
    this.list = list;
    this.count = count;
    this.empty = empty;
    this.filtersForm = filters;
    this.onOpen = onOpen;
    this.revealed = revealed;
    this.items = [];
    this.selectedId = null;
    this.me = null;
    list.addEventListener("click", (event) => {
      const row = event.target.closest("li[data-key]");
      if (!row || event.target.closest("a, button")) return;
      this.select(row.dataset.key, { focus: true });
      this.onOpen(row.dataset.key);
    });
    list.addEventListener("focusin", (event) => {
      const row = event.target.closest("li[data-key]");
      if (row) this.select(row.dataset.key);
    });
  }

  /** The active filters, as the query parameters of GET /v1/queue. */
  filters() {
    const data = new FormData(this.filtersForm);
    const out = {};
    for (const name of FILTER_NAMES) {
      const value = data.get(name);
      if (value) out[name] = name === "mine" || name === "unassigned" ? "true" : String(value);
    }
    return out;
  }

  /** Applies the filters here too, so they hold even before the server knows them. */
  keep(item, filters) {
    if (filters.priority && item.priority !== filters.priority) return false;
    if (filters.platform && item.platform !== filters.platform) return false;
    if (filters.intent && item.intent !== filters.intent) return false;
    if (filters.language && "language" in item && item.language !== filters.language) return false;
    if (filters.state && (item.sla?.state || "none") !== filters.state) return false;
    if (filters.mine && "assignee_id" in item && this.me && item.assignee_id !== this.me.id) {
      return false;
    }
    if (filters.unassigned && item.assignee_id) return false;
    if (filters.channel && item.channel !== filters.channel) return false;
    return true;
  }

  render(items, me) {
    this.me = me;
    const filters = this.filters();
    for (const item of items) this.channels.add(item.channel);
    this.renderViews(filters);
    this.items = items.filter((item) => this.keep(item, filters));
    reconcile(
      this.list,
      this.items,
      (item) => item.conversation_id,
      (item) => this.row(item),
      // What ticks (time left, time waited) is not a reason to rebuild a row: it ticks here.
      (item) => JSON.stringify([steady(item), this.revealed.has(String(item.latest_message?.id))]),
    );
    const now = String(Date.now());
    for (const item of this.items) {
      const due = document.getElementById(`due-${item.conversation_id}`);
      if (due && item.sla?.time_left_seconds !== null && item.sla?.time_left_seconds !== undefined) {
        Object.assign(due.dataset, { left: String(item.sla.time_left_seconds), at: now });
      }
      const waited = document.getElementById(`waited-${item.conversation_id}`);
      if (waited) Object.assign(waited.dataset, { since: String(item.waiting_seconds || 0), at: now });
    }
    for (const select of this.filtersForm.querySelectorAll("select")) {
      select.classList.toggle("set", Boolean(select.value));
    }
    const active = Object.keys(filters).length;
    this.count.textContent =
      `${this.items.length} waiting` + (active ? ` · ${active} filter${active > 1 ? "s" : ""}` : "");
    this.empty.hidden = this.items.length > 0;
    if (this.selectedId && !this.items.some((i) => String(i.conversation_id) === this.selectedId)) {
      this.selectedId = null;
    }
    this.markSelected();
  }

  /** One dense row (three short lines): priority, author, platform and the SLA countdown;
   * the first line of the message; the top reason, intent, time waited and who holds it. */
  row(item) {
    const id = item.conversation_id;
    const message = item.latest_message;
    const describedBy = [`sla-${id}`, `excerpt-${id}`, `why-${id}`];
    const holder = this.holderText(item);
    const reasons = item.reasons || [];
    return h(
      "li",
      {
        className: `row sla-row-${item.sla?.state || "none"}`,
        dataset: {
          state: item.sla?.state || "none",
          priority: item.priority,
          due: item.sla?.due_at || "",
          waiting: item.waiting_since || "",
        },
      },
      h(
        "div",
        { className: "row-top" },
        h(
          "a",
          { className: "row-link", href: `#/c/${id}`, "aria-describedby": describedBy.join(" ") },
          priorityBadge(item.priority),
          h("span", { className: "who", title: authorName(message?.author) }, authorName(message?.author)),
          h("span", { className: "where" }, `· ${platformName(item.platform)} · ${item.channel}`),
        ),
        h("span", { id: `sla-${id}` }, slaBadge(item.sla, `due-${id}`)),
      ),
      maybeBlurred("p", firstLine(message?.text), {
        abusive: item.abuse,
        messageId: message?.id,
        revealed: this.revealed,
        className: "excerpt",
        id: `excerpt-${id}`,
      }),
      h(
        "div",
        { className: "row-foot", id: `why-${id}`, title: reasons.join("\n") },
        h("span", { className: "visually-hidden" }, "Why: "),
        h(
          "ul",
          { className: "reasons", "aria-label": "Why it is in the queue" },
          reasons.slice(0, 1).map((reason) => h("li", {}, reason)),
        ),
        h("span", { className: "intent" }, item.intent || "—"),
        h(
          "span",
          {
            className: "waited",
            id: `waited-${id}`,
            title: "Waiting for",
            dataset: { since: String(item.waiting_seconds || 0), at: String(Date.now()) },
          },
          duration(item.waiting_seconds || 0),
        ),
        holder ? h("span", { className: "holder" }, holder) : null,
        item.incident ? incidentBadge(item.incident, `incident-${id}`) : null,
        queueTags(item.tags),
      ),
    );
  }

  /** Saved views, as chips: every conversation, mine, nobody's, one per channel, one per
   * language. A view sets the filters at once; the chip of the filters in force is pressed. */
  renderViews(filters) {
    const views = [
      ["All", {}],
      ["Mine", { mine: "true" }],
      ["Unassigned", { unassigned: "true" }],
      ...[...this.channels].sort().map((channel) => [channel, { channel }]),
      ...LANGUAGE_VIEWS.map(([language, label]) => [label, { language }]),
    ];
    const current = JSON.stringify(Object.entries(filters).filter(([name]) => name !== "incident").sort());
    const chips = views.map(([label, view]) =>
      h(
        "button",
        {
          type: "button",
          className: "chip",
          "aria-pressed": String(JSON.stringify(Object.entries(view).sort()) === current),
          dataset: { view: JSON.stringify(view) },
          on: { click: () => this.applyView(view) },
        },
        label,
      ),
    );
    const focused = this.views.contains(document.activeElement) ? document.activeElement.textContent : null;
    this.views.replaceChildren(...chips);
    if (focused) chips.find((chip) => chip.textContent === focused)?.focus();
  }

  /** Set the filters to a saved view's (the incident filter, if any, stays). */
  applyView(view) {
    const form = this.filtersForm;
    for (const name of FILTER_NAMES) {
      const field = form.elements[name];
      if (!field || name === "incident") continue;
      field.value = view[name] || "";
    }
    form.dispatchEvent(new Event("change"));
  }

  holderText(item) {
    if (!item.assignee_id) return "";
    if (this.me && item.assignee_id === this.me.id) return "held by you";
    return `held by ${item.assignee_name || "another agent"}`;
  }

  rows() {
    return [...this.list.children];
  }

  select(id, { focus = false } = {}) {
    this.selectedId = id === null || id === undefined ? null : String(id);
    this.markSelected();
    if (focus) this.selectedRow()?.querySelector(".row-link")?.focus();
    this.selectedRow()?.scrollIntoView({ block: "nearest" });
  }

  selectedRow() {
    return this.selectedId ? this.rows().find((r) => r.dataset.key === this.selectedId) : null;
  }

  markSelected() {
    for (const row of this.rows()) {
      if (row.dataset.key === this.selectedId) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    }
  }

  /** j / k: the next or previous conversation; returns its id. */
  move(delta) {
    const rows = this.rows();
    if (!rows.length) return null;
    const at = rows.findIndex((r) => r.dataset.key === this.selectedId);
    const next = at < 0 ? (delta > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, at + delta));
    this.select(rows[next].dataset.key, { focus: true });
    return this.selectedId;
  }
}
