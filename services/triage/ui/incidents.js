// Incidents on the desk: the badge a conversation carries, the list of incidents, and one
// incident's view (its conversations, samples, history and the status note leads write).
// Customer text reaches the page only through h() (text nodes), as everywhere in the desk.
import * as api from "./api.js";
import { fill, h } from "./dom.js";
import { SLA_STATES, authorName, clockTime, platformName } from "./format.js";
import { maybeBlurred, priorityBadge } from "./queue.js";

const WRITERS = new Set(["lead", "admin"]);
const CHANGES = {
  opened: "Opened",
  grown: "Grew",
  merged: "Merged",
  split: "Split",
  closed: "Closed",
  reopened: "Reopened",
  note: "Status note changed",
};

/** The badge of a queue row or a conversation: a link to the incident. */
export function incidentBadge(incident, id) {
  if (!incident) return null;
  const closed = incident.status !== "open";
  return h(
    "a",
    {
      className: `incident-badge${closed ? " incident-closed" : ""}`,
      href: `#/i/${incident.id}`,
      id,
      "aria-label": `Part of ${closed ? "closed " : ""}incident ${incident.id}: ${incident.label}`,
    },
    h("span", { className: "incident-word", "aria-hidden": "true" }, closed ? "Incident (closed)" : "Incident"),
    " ",
    h("span", { className: "incident-label", "aria-hidden": "true" }, incident.label),
  );
}

function figures(incident) {
  const parts = [
    `${incident.message_count} message${incident.message_count === 1 ? "" : "s"}`,
    `${incident.author_count} ${incident.author_count === 1 ? "person" : "people"}`,
    (incident.platforms || []).map(platformName).join(", "),
    (incident.languages || []).join(", "),
  ];
  return parts.filter(Boolean).join(" · ");
}

/** The incidents screen (#/incidents) and one incident (#/i/<id>), in the conversation pane. */
/** An incident tool (split, merge): one labelled field and a button that runs `submit`. */
function toolForm({ title, label, button, buttonId }, field, submit) {
  const run = async (event) => {
    event.preventDefault();
    await submit();
  };
  return h(
    "form",
    { className: "incident-tool", "aria-label": title, on: { submit: run } },
    h("label", { for: field.id }, label),
    field,
    h("button", { type: "submit", id: buttonId }, button),
  );
}

export class IncidentView {
  constructor({ root, announce, alert, revealed, changed, showInQueue }) {
    this.root = root;
    this.announce = announce;
    this.alert = alert;
    this.revealed = revealed;
    this.changed = changed; // the queue may have changed: refresh it
    this.showInQueue = showInQueue; // filter the queue to this incident
    this.me = null;
    this.id = null;
    this.listing = false;
    this.noteDraft = null; // what a lead is typing survives live refreshes
    this.chosen = new Set(); // conversations a lead ticked for a split
  }

  get writer() {
    return Boolean(this.me && WRITERS.has(this.me.role));
  }

  close() {
    this.id = null;
    this.listing = false;
    this.noteDraft = null;
    this.root.hidden = true;
    fill(this.root);
  }

  async showList() {
    this.id = null;
    this.listing = true;
    this.root.hidden = false;
    await this.refresh({ focus: true });
  }

  async open(id) {
    id = String(id);
    if (this.id !== id) {
      this.noteDraft = null;
      this.chosen.clear();
    }
    this.id = id;
    this.listing = false;
    this.root.hidden = false;
    await this.refresh({ focus: true });
  }

  async refresh({ focus = false } = {}) {
    const active = document.activeElement;
    const typing = this.root.contains(active) && active.matches("textarea, input[type=text], select");
    if (typing && !focus) return; // a live update never disturbs a lead writing or choosing
    try {
      if (this.listing) {
        const answer = await api.incidents();
        if (this.listing) this.renderList(answer.items || []);
      } else if (this.id) {
        const id = this.id;
        const [incident, others] = await Promise.all([
          api.incident(id),
          this.writer ? api.incidents().then((a) => a.items || []) : Promise.resolve([]),
        ]);
        if (this.id === id) this.render(incident, others);
      } else {
        return;
      }
    } catch (error) {
      if (error.status === 404) fill(this.root, h("h2", { id: "incident-title", tabIndex: -1 }, "Incident not found"));
      else this.alert(error.message);
    }
    if (focus) document.getElementById("incident-title")?.focus();
  }

  renderList(items) {
    fill(
      this.root,
      h("nav", { className: "incident-nav", "aria-label": "Back" }, h("a", { href: "#/" }, "← Queue")),
      h("h2", { id: "incident-title", tabIndex: -1 }, "Incidents"),
      items.length
        ? h(
            "ol",
            { className: "incident-list", "aria-labelledby": "incident-title" },
            items.map((i) =>
              h(
                "li",
                { className: `incident-item incident-${i.status}` },
                h("a", { href: `#/i/${i.id}` }, i.label),
                h("span", { className: "incident-status" }, i.status === "open" ? " open" : " closed"),
                i.kind === "moderation" ? h("span", { className: "incident-kind" }, " · moderation") : null,
                h("p", { className: "incident-figures" }, `${figures(i)} · since ${clockTime(i.first_seen)}`),
              ),
            ),
          )
        : h("p", { className: "empty" }, "No incident: nothing is happening in bursts."),
    );
  }

  render(incident, others = []) {
    const focused = document.activeElement;
    const keepFocus = this.root.contains(focused) && focused.id ? focused.id : null;
    const open = incident.status === "open";
    fill(
      this.root,
      h(
        "nav",
        { className: "incident-nav", "aria-label": "Back" },
        h("a", { href: "#/" }, "← Queue"),
        h("a", { href: "#/incidents" }, "All incidents"),
      ),
      h("h2", { id: "incident-title", tabIndex: -1 }, `Incident: ${incident.label}`),
      h(
        "p",
        { className: "conv-meta incident-meta" },
        h("span", { className: `status incident-${incident.status}` }, open ? "Open" : `Closed (${incident.close_reason})`),
        h("span", {}, incident.kind === "moderation" ? "Moderation" : "Customers"),
        h("span", {}, `first seen ${clockTime(incident.first_seen)}`),
        h("span", { id: "incident-figures" }, figures(incident)),
        incident.merged_into ? h("a", { href: `#/i/${incident.merged_into}` }, `merged into incident ${incident.merged_into}`) : null,
      ),
      h(
        "div",
        { className: "actions" },
        h(
          "button",
          { type: "button", id: "incident-filter", on: { click: () => this.showInQueue(incident) } },
          "Show its conversations in the queue",
        ),
        this.writer ? this.actions(incident) : null,
      ),
      this.noteSection(incident),
      this.conversations(incident),
      this.writer && open ? this.splitForm(incident) : null,
      this.writer && open ? this.mergeForm(incident, others) : null,
      this.samples(incident),
      this.history(incident),
    );
    if (keepFocus) document.getElementById(keepFocus)?.focus();
  }

  actions(incident) {
    const open = incident.status === "open";
    const merged = incident.close_reason === "merged";
    return [
      open
        ? h("button", { type: "button", id: "incident-close", on: { click: () => this.act(() => api.closeIncident(this.id), "Incident closed. Its conversations stay in the queue.") } }, "Close incident")
        : null,
      !open && !merged
        ? h("button", { type: "button", id: "incident-reopen", on: { click: () => this.act(() => api.reopenIncident(this.id), "Incident reopened.") } }, "Reopen incident")
        : null,
    ];
  }

  /** Run `call`, then announce `said` (or `said(its result)`), or alert why not after
   *  `failed`; either way refresh the incident and tell the desk (the queue shows incidents). */
  async act(call, said, failed = "") {
    try {
      const result = await call();
      this.alert(null);
      this.announce(typeof said === "function" ? said(result) : said);
    } catch (error) {
      this.alert(`${failed}${error.message}`);
    }
    await this.refresh();
    this.changed();
  }

  noteSection(incident) {
    const who = incident.note_at
      ? `Written by ${incident.note_by_name || "a lead"} at ${clockTime(incident.note_at)}.`
      : "";
    const section = h(
      "section",
      { className: "incident-note", "aria-labelledby": "incident-note-title" },
      h("h3", { id: "incident-note-title" }, "Status note"),
    );
    if (!this.writer) {
      section.append(
        incident.status_note
          ? h("p", { className: "text", id: "incident-note-text" }, incident.status_note)
          : h("p", { className: "empty", id: "incident-note-text" }, "No status note yet."),
        h("p", { className: "hint" }, who, " Agents start a reply from it in each conversation, then write it for the person."),
      );
      return section;
    }
    const box = h("textarea", {
      id: "incident-note",
      name: "text",
      rows: 4,
      maxLength: 5000,
      "aria-describedby": "incident-note-hint",
    });
    box.value = this.noteDraft ?? incident.status_note;
    box.addEventListener("input", () => (this.noteDraft = box.value));
    const form = h(
      "form",
      {
        className: "composer",
        on: {
          submit: async (event) => {
            event.preventDefault();
            try {
              await api.incidentNote(this.id, box.value);
              this.noteDraft = null;
              this.alert(null);
              this.announce("Status note saved: agents can start their replies from it.");
            } catch (error) {
              this.alert(`Status note not saved: ${error.message}`);
            }
            await this.refresh();
          },
        },
      },
      h("label", { for: "incident-note", className: "visually-hidden" }, "Status note"),
      box,
      h("p", { className: "hint", id: "incident-note-hint" }, who, " What we know and what we are doing. Agents start from it and write each reply for its person."),
      h("button", { type: "submit", className: "primary", id: "incident-note-save" }, "Save status note"),
    );
    section.append(form);
    return section;
  }

  conversations(incident) {
    const items = incident.conversations || [];
    return h(
      "section",
      { "aria-labelledby": "incident-conv-title" },
      h("h3", { id: "incident-conv-title" }, `Conversations (${items.length})`),
      h(
        "ol",
        { className: "incident-conversations" },
        items.map((c) => {
          const state = c.in_queue ? SLA_STATES[c.sla?.state] || c.sla?.state : c.status === "resolved" ? "Resolved" : "Waiting on the customer";
          const key = String(c.conversation_id);
          const pick =
            this.writer && incident.status === "open"
              ? h("input", {
                  type: "checkbox",
                  id: `split-${key}`,
                  className: "split-pick",
                  checked: this.chosen.has(key),
                  "aria-label": `Choose ${authorName(c.latest_message?.author)}'s conversation for a split`,
                  on: { change: (event) => (event.target.checked ? this.chosen.add(key) : this.chosen.delete(key)) },
                })
              : null;
          return h(
            "li",
            { className: "row", dataset: { conversation: String(c.conversation_id) } },
            h(
              "div",
              { className: "row-top" },
              h(
                "span",
                { className: "row-pick" },
                pick,
                h(
                "a",
                { className: "row-link", href: `#/c/${c.conversation_id}` },
                priorityBadge(c.priority),
                h("span", { className: "who" }, authorName(c.latest_message?.author)),
                h("span", { className: "where" }, ` on ${platformName(c.platform)}`),
                ),
              ),
              h("span", { className: `sla sla-${c.in_queue ? c.sla?.state : "none"}` }, state),
            ),
            maybeBlurred("p", c.latest_message?.text, {
              abusive: c.abuse,
              messageId: c.latest_message?.id,
              revealed: this.revealed,
              className: "excerpt",
            }),
            h(
              "p",
              { className: "row-foot" },
              c.assignee_id ? (this.me && c.assignee_id === this.me.id ? "held by you" : "held by another agent") : "nobody holds it",
              c.flooding ? " · flooding (counted once)" : "",
            ),
          );
        }),
      ),
    );
  }

  splitForm(incident) {
    const label = h("input", { type: "text", id: "split-label", name: "label", maxLength: 200, autocomplete: "off" });
    const submit = async () => {
      const ids = [...this.chosen].map(Number);
      const split = async () => {
        const made = await api.splitIncident(this.id, ids, label.value.trim() || null);
        this.chosen.clear();
        return made;
      };
      const moved = (made) => `${ids.length} conversation${ids.length === 1 ? "" : "s"} moved to the new incident “${made.label}”.`;
      await this.act(split, moved, "Not split: ");
    };
    const tool = { title: "Split off the chosen conversations", label: "Label of the new incident (optional)", button: "Split off the chosen conversations", buttonId: "split-submit" };
    return toolForm(tool, label, submit);
  }

  mergeForm(incident, others) {
    const candidates = others.filter((o) => String(o.id) !== String(incident.id) && o.kind === incident.kind && o.close_reason !== "merged");
    if (!candidates.length) return null;
    const pick = h(
      "select",
      { id: "merge-source", name: "incident_id" },
      candidates.map((o) => h("option", { value: String(o.id) }, `${o.label} (${o.message_count} message${o.message_count === 1 ? "" : "s"}${o.status === "open" ? "" : ", closed"})`)),
    );
    const submit = async () => {
      const chosen = pick.selectedOptions[0]?.text || "";
      const merge = () => api.mergeIncident(this.id, Number(pick.value));
      await this.act(merge, `Merged “${chosen}” into this incident.`, "Not merged: ");
    };
    const tool = { title: "Merge another incident into this one", label: "Merge into this incident", button: "Merge", buttonId: "merge-submit" };
    return toolForm(tool, pick, submit);
  }

  samples(incident) {
    if (!incident.samples?.length) return null;
    return h(
      "section",
      { "aria-labelledby": "incident-samples-title" },
      h("h3", { id: "incident-samples-title" }, "First messages"),
      h(
        "ul",
        { className: "incident-samples" },
        incident.samples.map((s) =>
          h(
            "li",
            {},
            h("span", { className: "who" }, `${authorName(s.author)}, ${clockTime(s.created_at)}: `),
            maybeBlurred("span", s.text, { abusive: s.abuse, messageId: s.message_id, revealed: this.revealed }),
          ),
        ),
      ),
    );
  }

  history(incident) {
    return h(
      "section",
      { "aria-labelledby": "incident-history-title" },
      h("h3", { id: "incident-history-title" }, "History"),
      h(
        "ol",
        { className: "incident-history" },
        (incident.history || []).map((e) =>
          h(
            "li",
            {},
            h("time", { dateTime: e.at }, clockTime(e.at)),
            ` ${CHANGES[e.change] || e.change}`,
            e.detail?.from ? ` (from incident ${e.detail.from})` : "",
            e.detail?.into ? ` (into incident ${e.detail.into})` : "",
            e.user_name ? ` by ${e.user_name}` : e.user_id ? "" : " by the detector",
          ),
        ),
      ),
    );
  }
}

/**
 * "Start from the incident's status note" in the reply box: inserts the note and remembers
 * which incident it came from, so the server can tell an edited reply from a pasted one.
 */
export function startFromNote({ button, box, incident, draft, announce }) {
  const note = incident?.status_note || "";
  button.hidden = !note;
  button.onclick = () => {
    if (!note) return;
    if (!box.value.trim()) {
      box.value = note;
    } else {
      const at = box.selectionStart ?? box.value.length;
      box.value = box.value.slice(0, at) + note + box.value.slice(box.selectionEnd ?? at);
    }
    const current = draft();
    current.text = box.value;
    current.savedId = null;
    current.incidentId = incident.id;
    box.focus();
    announce("Inserted the incident's status note: write it for this person before sending.");
  };
}
