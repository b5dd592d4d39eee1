// Tags on the desk: a "Tag" filter over the queue (the server applies it), the tags of each
// queue item, and chips on the open conversation that an agent adds from a small menu and
// takes off with their ×. A change reaches every open desk through the live updates (the
// server logs it), so nothing here patches the queue by hand.
import * as api from "./api.js";
import { fill, h } from "./dom.js";

const conversationTag = (cid, tagId) =>
  `/v1/conversations/${encodeURIComponent(String(cid))}/tags/${encodeURIComponent(String(tagId))}`;

/** A tag as a chip (its colour a name of the palette, never a value from the server's data). */
export function tagChip(tag, ...more) {
  return h("span", { className: "tag-chip", dataset: { colour: tag.colour } }, tag.name, ...more);
}

/** A queue item's tags, as chips. */
export const queueTags = (tags) => (tags || []).map((t) => tagChip(t));

export class Tags {
  constructor({ filter, box, announce, alert, changed }) {
    this.filter = filter; // the filter bar's <select name="tag">
    this.box = box; // the conversation's chips and menu
    this.announce = announce;
    this.alert = alert;
    this.changed = changed;
    this.all = [];
    this.view = null;
  }

  /** The workspace's tags, read when the desk opens: the filter offers them. */
  async load() {
    try {
      this.all = (await api.request("GET", "/v1/tags")).items || [];
    } catch (error) {
      if (error.status !== 401) this.alert(error.message);
      return;
    }
    const chosen = this.filter.value;
    fill(
      this.filter,
      h("option", { value: "" }, "Tag"),
      this.all.map((t) => h("option", { value: String(t.id), selected: String(t.id) === chosen }, t.name)),
    );
    this.filter.hidden = this.all.length === 0 && !chosen;
  }

  /** The open conversation's chips, and a menu of the tags it does not carry. */
  show(view) {
    this.view = view;
    const on = new Set((view.tags || []).map((t) => t.id));
    const menu = h(
      "select",
      { className: "tag-add", "aria-label": "Add a tag", on: { change: (e) => this.change(e.target.value, true) } },
      h("option", { value: "" }, "+ Tag"),
      this.all.filter((t) => !on.has(t.id)).map((t) => h("option", { value: String(t.id) }, t.name)),
    );
    menu.hidden = menu.options.length === 1;
    fill(
      this.box,
      (view.tags || []).map((t) =>
        tagChip(
          t,
          h("button", {
            type: "button",
            className: "tag-remove",
            "aria-label": `Remove tag ${t.name}`,
            on: { click: () => this.change(String(t.id), false) },
          }, "×"),
        )),
      menu,
    );
  }

  async change(tagId, put) {
    if (!tagId || !this.view) return;
    const name = this.all.find((t) => String(t.id) === tagId)?.name || "tag";
    try {
      const answer = await api.request(put ? "PUT" : "DELETE", conversationTag(this.view.id, tagId));
      this.show({ ...this.view, tags: answer.tags });
      this.announce(put ? `Tagged ${name}.` : `Tag ${name} removed.`);
      this.changed();
    } catch (error) {
      if (error.status === 404) await this.load(); // removed meanwhile by a lead
      if (error.status !== 401) this.alert(error.message);
    }
  }
}
