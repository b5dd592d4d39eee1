// The rule editor of the leads' tag page: a rule's name and order, its conditions (when) and
// its actions (then), sent as POST /v1/rules or PUT /v1/rules/{id}. The server does every
// check: a 422 (or a 409 on the name) names the field by JSON pointer, and its message is shown
// beside that field, which takes the focus. Every control carries the pointer it fills
// (data-pointer), so an error finds its field however the actions were added or removed.
import * as api from "./api.js";
import { fill, h } from "./dom.js";
import { platformName, vocabulary } from "./format.js";

const LANGUAGES = [["fr", "French"], ["en", "English"], ["other", "Other languages"]];
const PRIORITIES = ["P1", "P2", "P3", "P4"];
const KINDS = [
  ["tag", "Tag it"],
  ["set_priority", "Set its priority"],
  ["route", "Route it to a skill"],
  ["close", "Close it as needing no answer"],
  ["mark_abuse", "Mark it abusive"],
  ["notify", "Notify the workspace's webhook"],
];
const EITHER = [
  ["abuse", "Abusive", "Abusive", "Not abusive"],
  ["author_seen_before", "Author", "Seen before", "Writing for the first time"],
  ["in_incident", "Incident", "In an open incident", "In no open incident"],
];

export const rulePath = (id) => `/v1/rules/${encodeURIComponent(String(id))}`;
const lines = (text) => text.split("\n").map((w) => w.trim()).filter(Boolean);

/** A control with its label, hint and error line; `pointer` is the field it fills. */
function field(id, label, control, pointer, hint) {
  control.id = id;
  control.dataset.pointer = pointer;
  control.dataset.error = `${id}-error`;
  control.setAttribute("aria-describedby", [hint && `${id}-hint`, `${id}-error`].filter(Boolean).join(" "));
  return h("div", { className: "rule-field" },
    h("label", { for: id }, label),
    hint ? h("p", { id: `${id}-hint`, className: "hint" }, hint) : null,
    control,
    h("p", { id: `${id}-error`, className: "error" }));
}

/** Checkboxes for a set of values (none ticked: the condition does not constrain). */
function choices(name, legend, options, chosen) {
  const errorId = `rule-${name}-error`;
  return h("fieldset", { className: "rule-choices" },
    h("legend", {}, legend),
    options.map(([value, label], i) => h("label", { className: "rule-choice" },
      h("input", {
        type: "checkbox", name, value, checked: chosen.includes(value),
        dataset: i === 0 ? { pointer: `/when/${name}`, error: errorId } : {},
        "aria-describedby": errorId,
      }),
      ` ${label}`)),
    h("p", { id: errorId, className: "error" }));
}

function eitherSelect([name, label, yes, no], value) {
  const chosen = value === true ? "true" : value === false ? "false" : "";
  return field(`rule-${name}`, label, h("select", { name },
    [["", "Either"], ["true", yes], ["false", no]].map(([v, text]) => h("option", { value: v, selected: v === chosen }, text)),
  ), `/when/${name}`);
}

function options(values, chosen, none) {
  return [
    none ? h("option", { value: "" }, none) : null,
    values.map(([value, label]) => h("option", { value, selected: String(value) === String(chosen ?? "") }, label)),
  ];
}

export class RuleEditor {
  constructor({ saved }) {
    this.saved = saved; // (rule, said): the page lists it again and focuses it
    this.form = h("form", { id: "rule-form", className: "rule-form", noValidate: true, hidden: true, "aria-labelledby": "rule-form-title" });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    // Escape anywhere in the form cancels it (the desk's own Escape would leave the page).
    this.form.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.preventDefault();
      this.cancel();
    });
    this.rule = null;
    this.tags = [];
    this.opener = null;
  }

  /** Open the form for a new rule (null) or to edit one; `opener` gets the focus back. */
  edit(rule, tags, opener) {
    this.rule = rule;
    this.tags = tags;
    this.opener = opener;
    const when = rule?.when || {};
    const title = rule ? `Edit rule ${rule.name}` : "New rule";
    fill(this.form,
      h("h3", { id: "rule-form-title" }, title),
      field("rule-name", "Rule name", h("input", { name: "name", value: rule?.name || "", maxLength: 80, autocomplete: "off" }), "/name"),
      field("rule-position", "Order", h("input", { name: "position", type: "number", min: 0, value: String(rule?.position ?? 0) }), "/position",
        "Rules run from the lowest number up; the first to set a priority or a route wins."),
      h("fieldset", { className: "rule-when" },
        h("legend", {}, "When a triaged message matches all of these (left empty: any)"),
        field("rule-words", "Words or phrases, one per line (any of them)", h("textarea", { name: "words", rows: 3, value: (when.words || []).join("\n") }), "/when/words",
          "Whole words, case and accents ignored."),
        choices("intents", "Intent", vocabulary.intents.map((i) => [i, i]), when.intents || []),
        choices("languages", "Language", LANGUAGES, when.languages || []),
        choices("platforms", "Platform", vocabulary.platforms.map((p) => [p, platformName(p)]), when.platforms || []),
        field("rule-channels", "Channels, one per line", h("textarea", { name: "channels", rows: 2, value: (when.channels || []).join("\n") }), "/when/channels"),
        choices("priorities", "Priority", PRIORITIES.map((p) => [p, p]), when.priorities || []),
        EITHER.map((either) => eitherSelect(either, when[either[0]]))),
      h("fieldset", { className: "rule-then" },
        h("legend", {}, "Then"),
        h("ol", { className: "rule-actions" }),
        h("button", {
          type: "button", id: "rule-add", dataset: { pointer: "/then", error: "rule-then-error" }, "aria-describedby": "rule-then-error",
          on: { click: () => this.addAction() },
        }, "Add an action"),
        h("p", { id: "rule-then-error", className: "error" })),
      h("p", { id: "rule-form-status", className: "error", role: "status" }),
      h("div", { className: "rule-buttons" },
        h("button", { type: "submit", className: "primary" }, rule ? "Save rule" : "Create rule"),
        h("button", { type: "button", on: { click: () => this.cancel() } }, "Cancel")));
    this.renderActions(rule?.then || []);
    this.form.hidden = false;
    this.form.querySelector("#rule-name").focus();
  }

  cancel() {
    this.close();
    this.opener?.()?.focus();
  }

  close() {
    this.form.hidden = true;
    fill(this.form);
    this.rule = null;
  }

  renderActions(actions) {
    fill(this.form.querySelector(".rule-actions"), actions.map((a, i) => this.actionItem(a, i)));
  }

  actionItem(action, i) {
    const kind = h("select", {
      name: "kind", on: { change: () => this.reshape(i) },
    }, options(KINDS, action.kind));
    return h("li", { dataset: { index: String(i) } },
      h("fieldset", { className: "rule-action" },
        h("legend", {}, `Action ${i + 1}`),
        field(`rule-kind-${i}`, "Do", kind, `/then/${i}`),
        this.details(action, i),
        h("button", {
          type: "button", "aria-label": `Remove action ${i + 1}`, on: { click: () => this.removeAction(i) },
        }, "Remove")));
  }

  /** The fields of one kind of action (their pointers as the API's union names them). */
  details(action, i) {
    const at = (name) => `/then/${i}/${action.kind}/${name}`;
    switch (action.kind) {
      case "tag":
        return field(`rule-tag-${i}`, "Tag", h("select", { name: "tag_id" },
          options(this.tags.map((t) => [t.id, t.name]), action.tag_id, "Choose a tag")), at("tag_id"),
          this.tags.length ? null : "The workspace has no tag yet: create one above.");
      case "set_priority":
        return field(`rule-priority-${i}`, "Priority", h("select", { name: "priority" },
          options(PRIORITIES.map((p) => [p, p]), action.priority || "P2")), at("priority"),
          "A P1 found by triage is never lowered.");
      case "route":
        return [
          field(`rule-route-language-${i}`, "Agents who speak", h("select", { name: "language" },
            options(LANGUAGES, action.language, "Any language")), `/then/${i}/route`),
          field(`rule-route-channel-${i}`, "Agents who cover the channel", h("input", { name: "channel", value: action.channel || "", autocomplete: "off" }), at("channel")),
        ];
      case "close":
        return field(`rule-reason-${i}`, "Reason agents read", h("input", { name: "reason", value: action.reason || "", maxLength: 200, autocomplete: "off" }), at("reason"));
      case "mark_abuse":
        return h("label", { className: "rule-choice" },
          h("input", { type: "checkbox", name: "hide", checked: Boolean(action.hide) }),
          " Hide the comment on platforms that allow it");
      default:
        return h("p", { className: "hint" }, "The workspace's webhook receives the conversation.");
    }
  }

  /** The actions as the form holds them now. */
  actions() {
    return [...this.form.querySelectorAll(".rule-actions > li")].map((item) => {
      const value = (name) => item.querySelector(`[name="${name}"]`)?.value ?? "";
      const kind = value("kind");
      if (kind === "tag") return { kind, tag_id: value("tag_id") ? Number(value("tag_id")) : null };
      if (kind === "set_priority") return { kind, priority: value("priority") };
      if (kind === "route") {
        const route = { kind };
        if (value("language")) route.language = value("language");
        if (value("channel").trim()) route.channel = value("channel").trim();
        return route;
      }
      if (kind === "close") return { kind, reason: value("reason").trim() };
      if (kind === "mark_abuse") return { kind, hide: item.querySelector('[name="hide"]').checked };
      return { kind };
    });
  }

  addAction() {
    const actions = this.actions();
    this.renderActions([...actions, { kind: "tag" }]);
    this.form.querySelector(`#rule-kind-${actions.length}`).focus();
  }

  removeAction(i) {
    const actions = this.actions();
    actions.splice(i, 1);
    this.renderActions(actions);
    (this.form.querySelector(`#rule-kind-${Math.min(i, actions.length - 1)}`) || this.form.querySelector("#rule-add")).focus();
  }

  /** Another kind chosen: that action's fields change, the focus stays on its kind. */
  reshape(i) {
    this.renderActions(this.actions());
    this.form.querySelector(`#rule-kind-${i}`).focus();
  }

  body() {
    const form = this.form;
    const ticked = (name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);
    const either = (name) => ({ true: true, false: false })[form.querySelector(`select[name="${name}"]`).value] ?? null;
    const position = form.querySelector("#rule-position").value;
    return {
      name: form.querySelector("#rule-name").value.trim(),
      position: position === "" ? 0 : Number(position),
      // The rule's switch as its row shows it now (it may have been flipped while editing).
      enabled: this.rule ? (document.getElementById(`rule-on-${this.rule.id}`)?.checked ?? this.rule.enabled) : true,
      when: {
        intents: ticked("intents"),
        languages: ticked("languages"),
        platforms: ticked("platforms"),
        channels: lines(form.querySelector("#rule-channels").value),
        priorities: ticked("priorities"),
        abuse: either("abuse"),
        words: lines(form.querySelector("#rule-words").value),
        author_seen_before: either("author_seen_before"),
        in_incident: either("in_incident"),
      },
      then: this.actions(),
    };
  }

  async submit() {
    this.clearErrors();
    const editing = this.rule;
    try {
      const rule = editing
        ? await api.request("PUT", rulePath(editing.id), this.body())
        : await api.request("POST", "/v1/rules", this.body());
      this.close();
      await this.saved(rule, `Rule ${rule.name} ${editing ? "saved" : "created"}.`);
    } catch (failure) {
      if (failure.status !== 401) this.refused(failure);
    }
  }

  clearErrors() {
    for (const control of this.form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
    for (const line of this.form.querySelectorAll(".error")) line.textContent = "";
  }

  /** Each problem beside the field its pointer names (or the nearest field above it); the
   *  first such field takes the focus. A refusal naming no field is said in the status. */
  refused(failure) {
    const placed = (failure.problem.errors || []).map((e) => this.place(e.pointer, e.detail)).filter(Boolean);
    const status = this.form.querySelector("#rule-form-status");
    status.textContent = placed.length ? "Not saved: see the message beside the field." : failure.message;
    placed[0]?.focus();
  }

  place(pointer, detail) {
    for (let p = pointer || ""; p; p = p.slice(0, p.lastIndexOf("/"))) {
      const control = this.form.querySelector(`[data-pointer="${CSS.escape(p)}"]`);
      if (!control) continue;
      control.setAttribute("aria-invalid", "true");
      document.getElementById(control.dataset.error).textContent = detail;
      return control;
    }
    return null;
  }
}
