// The leads' tag page (#/tags, leads and admins): create, rename, recolour and delete the
// workspace's tags (POST, PUT, DELETE /v1/tags), and the workspace's rules in the order they
// run, each written or edited in the rule editor (rule_editor.js), switched on or off
// (PUT /v1/rules/{id}) or removed. The server does every check (agents get 403); names reach
// the page only through h().
import * as api from "./api.js";
import { PageView, fill, h } from "./dom.js";
import { RuleEditor, rulePath } from "./rule_editor.js";
import { tagChip } from "./tags.js";

/** The desk's palette (tags.css colours each by name; the server accepts only these). */
export const COLOURS = ["grey", "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink"];

const tagPath = (id) => `/v1/tags/${encodeURIComponent(String(id))}`;

function colourSelect(id, label, chosen) {
  return h("select", { id, name: "colour", "aria-label": label },
    COLOURS.map((c) => h("option", { value: c, selected: c === chosen }, c)));
}

export class TagPage extends PageView {
  constructor({ root, announce, alert, changed }) {
    super(root, { titleId: "tags-title", refusal: "Only leads manage tags", alert });
    this.announce = announce;
    this.changed = changed; // the desk reads the tags again (filter, menus)
    this.tags = [];
    // Kept across refreshes (the page re-renders around it), so a rule half written survives
    // a tag saved meanwhile.
    this.editor = new RuleEditor({
      saved: async (rule, said) => {
        this.announce(said);
        await this.refresh();
        document.getElementById(`rule-edit-${rule.id}`)?.focus();
      },
    });
  }

  close() {
    this.editor.close();
    super.close();
  }

  async load() {
    const [tags, rules] = await Promise.all([api.request("GET", "/v1/tags"), api.request("GET", "/v1/rules")]);
    return [tags.items || [], rules.items || []];
  }

  render(tags, rules) {
    this.tags = tags;
    fill(
      this.root,
      this.heading("Tags"),
      this.createForm(),
      this.list("tags-title", tags, (t) => this.tagRow(t), "No tag yet."),
      h("h3", { id: "rules-title" }, "Rules"),
      h("p", { className: "hint" }, "Rules run in this order on every message, right after triage."),
      h("button", {
        type: "button", id: "rule-new",
        on: { click: () => this.editor.edit(null, this.tags, () => document.getElementById("rule-new")) },
      }, "New rule"),
      this.editor.form,
      this.list("rules-title", rules, (r) => this.ruleRow(r), "No rule yet."),
    );
  }

  createForm() {
    const form = h("form", { id: "tag-form", className: "invite", noValidate: true },
      h("h3", {}, "New tag"),
      h("label", { for: "tag-name" }, "Name"),
      h("input", { id: "tag-name", name: "name", autocomplete: "off", maxLength: 40, required: true }),
      h("label", { for: "tag-colour" }, "Colour"),
      colourSelect("tag-colour", null, "grey"),
      h("p", { id: "tag-error", className: "error", role: "alert" }),
      h("button", { type: "submit", className: "primary" }, "Create tag"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { name: form.name.value.trim(), colour: form.colour.value };
      const ok = await this.act(() => api.request("POST", "/v1/tags", body), `Tag ${body.name} created.`, form.querySelector("#tag-error"));
      if (ok) document.getElementById("tag-name")?.focus();
    });
    return form;
  }

  tagRow(tag) {
    const name = h("input", { id: `tag-name-${tag.id}`, value: tag.name, maxLength: 40, "aria-label": `Name of tag ${tag.name}` });
    const colour = colourSelect(`tag-colour-${tag.id}`, `Colour of tag ${tag.name}`, tag.colour);
    const save = () => this.act(
      () => api.request("PUT", tagPath(tag.id), { name: name.value.trim(), colour: colour.value }),
      `Tag ${name.value.trim()} saved.`,
    );
    return h("li", { className: "team-row", dataset: { tag: tag.name } },
      tagChip(tag), name, colour,
      h("span", { className: "team-actions" },
        h("button", { type: "button", "aria-label": `Save tag ${tag.name}`, on: { click: save } }, "Save"),
        h("button", {
          type: "button", "aria-label": `Delete tag ${tag.name}`,
          on: { click: () => this.act(() => api.request("DELETE", tagPath(tag.id)), `Tag ${tag.name} deleted.`) },
        }, "Delete")));
  }

  ruleRow(rule) {
    const kinds = rule.then.map((a) => a.kind.replace("_", " ")).join(", ");
    const body = { name: rule.name, position: rule.position, when: rule.when, then: rule.then };
    const toggle = h("input", {
      type: "checkbox", id: `rule-on-${rule.id}`, checked: rule.enabled,
      on: { change: (event) => this.act(
        () => api.request("PUT", rulePath(rule.id), { ...body, enabled: event.target.checked }),
        `Rule ${rule.name} ${event.target.checked ? "on" : "off"}.`,
      ) },
    });
    const edit = () => this.editor.edit(rule, this.tags, () => document.getElementById(`rule-edit-${rule.id}`));
    return h("li", { className: "team-row", dataset: { rule: rule.name } },
      h("span", { className: "team-who" }, h("strong", {}, rule.name), h("br"), h("span", { className: "hint" }, `${rule.position} · then ${kinds}`)),
      h("label", { for: `rule-on-${rule.id}` }, toggle, " On"),
      h("button", { type: "button", id: `rule-edit-${rule.id}`, "aria-label": `Edit rule ${rule.name}`, on: { click: edit } }, "Edit"),
      h("button", {
        type: "button", "aria-label": `Delete rule ${rule.name}`,
        on: { click: () => this.act(() => api.request("DELETE", rulePath(rule.id)), `Rule ${rule.name} deleted.`) },
      }, "Delete"));
  }

  /** Call, announce, refresh the page and the desk's tags; a refusal shown where asked. */
  async act(call, said, errorBox = null) {
    try {
      await call();
      this.announce(said);
    } catch (failure) {
      const message = failure.message;
      if (errorBox) errorBox.textContent = message;
      else this.alert(message);
      return false;
    }
    await this.changed();
    await this.refresh();
    return true;
  }
}
