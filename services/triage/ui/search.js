// Search: the box in the queue's header finds the workspace's messages (words in English or
// French, a booking reference, a handle); its hits take the queue's place until Esc.
import * as api from "./api.js";
import { h } from "./dom.js";
import { STATUSES, clockTime, platformName } from "./format.js";
import { priorityBadge } from "./queue.js";

const WAIT_MS = 250; // typing pauses this long before a search is sent

/** The snippet as text nodes, the matched words in <mark>: never parsed as HTML. */
function snippet(text, highlights) {
  const parts = [];
  let at = 0;
  for (const [start, end] of highlights) {
    parts.push(text.slice(at, start), h("mark", {}, text.slice(start, end)));
    at = end;
  }
  parts.push(text.slice(at));
  return parts;
}

export class Search {
  constructor({ form, input, results, empty, hide, say }) {
    Object.assign(this, { form, input, results, empty, hide, say });
    this.timer = null;
    this.asked = "";
    this.active = false;
    input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.run(), WAIT_MS);
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearTimeout(this.timer);
      await this.run();
      this.links()[0]?.focus();
    });
    form.addEventListener("keydown", (event) => this.key(event));
    results.addEventListener("keydown", (event) => this.key(event));
  }

  focus() {
    this.input.focus();
    this.input.select();
  }

  links() {
    return [...this.results.querySelectorAll(".row-link")];
  }

  /** Esc goes back to the queue; the arrows walk the hits (Enter opens one: it is a link). */
  key(event) {
    if (event.key === "Escape") {
      event.preventDefault();
      this.close();
      return;
    }
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const links = this.links();
    if (!links.length) return;
    event.preventDefault();
    const at = links.indexOf(document.activeElement);
    const next = event.key === "ArrowDown" ? Math.min(links.length - 1, at + 1) : at - 1;
    if (next < 0) this.input.focus();
    else links[next].focus();
  }

  async run() {
    const q = this.input.value.trim();
    if (q.length < 2) {
      if (this.active) this.show(false);
      return;
    }
    this.asked = q;
    try {
      const answer = await api.search(q);
      if (q !== this.asked) return; // a later search is under way
      this.render(answer.items);
    } catch (error) {
      this.say(error.message);
    }
  }

  render(items) {
    this.results.replaceChildren(...items.map((hit) => this.row(hit)));
    this.empty.hidden = items.length > 0;
    this.show(true);
    this.say(`${items.length} result${items.length === 1 ? "" : "s"} for ${this.asked}`);
  }

  row(hit) {
    const id = hit.conversation_id;
    return h(
      "li",
      { className: "row hit", dataset: { key: String(id) } },
      h(
        "div",
        { className: "row-top" },
        h(
          "a",
          {
            className: "row-link",
            href: `#/c/${id}`,
            "aria-describedby": `hit-${hit.message_id}`,
          },
          priorityBadge(hit.priority),
          h("span", { className: "who" }, hit.author_handle ? `@${hit.author_handle}` : "Customer"),
          h("span", { className: "where" }, `· ${platformName(hit.platform)} · ${hit.channel}`),
        ),
        h("span", { className: "status" }, STATUSES[hit.status] || hit.status),
        h("time", { dateTime: hit.created_at }, clockTime(hit.created_at)),
      ),
      h("p", { className: "text excerpt", id: `hit-${hit.message_id}` }, snippet(hit.snippet, hit.highlights)),
    );
  }

  /** The hits in the queue's place, or the queue back. */
  show(on) {
    this.active = on;
    this.results.hidden = !on;
    if (!on) this.empty.hidden = true;
    for (const el of this.hide) el.classList.toggle("searching", on);
  }

  close() {
    clearTimeout(this.timer);
    this.input.value = "";
    this.asked = "";
    this.results.replaceChildren();
    this.show(false);
    this.say("Back to the queue");
  }
}
