// The person behind the open conversation (GET /v1/people/{platform}/{author id}): their name
// and handle on each platform, their conversations on every channel of the workspace (each a
// link, with its date, state and first line), the identities agents linked by hand (link
// another, unlink), notes about them, and for admins the data-protection actions that exist
// (export, erase). It follows the conversation view through app.js's `rendered` hook and reads
// the person again only when another conversation or author is shown.
import * as api from "./api.js";
import { fill, h } from "./dom.js";
import { STATUSES, clockTime, platformName, vocabulary } from "./format.js";

const personPath = (platform, authorId) =>
  `/v1/people/${encodeURIComponent(platform)}/${encodeURIComponent(authorId)}`;

/** How an identity is named: its display name and @handle, whichever it has. */
function identityName(identity) {
  const handle = identity.handle ? `@${identity.handle}` : "";
  if (identity.display_name && handle) return `${identity.display_name} (${handle})`;
  return identity.display_name || handle || identity.author_id || "Unknown";
}

export class PersonPanel {
  constructor({ root, announce, alert }) {
    this.root = root;
    this.announce = announce;
    this.alert = alert;
    this.me = null;
    this.key = null; // "platform/author id/conversation id" of what is shown
    this.person = null;
    this.conversationId = null;
  }

  /** The conversation view was drawn: show (or keep) the person of its first customer. */
  show(view) {
    // "unknown": the platform withheld the author (an Instagram mention): nobody to show.
    const first = (view.messages || []).find(
      (m) => m.direction === "in" && m.author?.external_id && m.author.external_id !== "unknown",
    );
    if (!first) {
      this.key = null;
      this.root.hidden = true;
      return;
    }
    const key = `${view.platform}/${first.author.external_id}/${view.id}`;
    if (key === this.key) return;
    this.key = key;
    // Until the next person arrives, show nobody: the previous customer's panel must not
    // sit beside another customer's conversation.
    this.root.hidden = true;
    this.conversationId = view.id;
    this.path = personPath(view.platform, first.author.external_id);
    this.load();
  }

  async load() {
    const key = this.key;
    try {
      const person = await api.request("GET", this.path);
      if (key === this.key) this.render(person);
    } catch (error) {
      if (key !== this.key) return;
      this.root.hidden = true; // an erased person, or one triage has not seen yet
      if (error.status !== 404 && error.status !== 401) this.alert(error.message);
    }
  }

  /** A write that answers the person as it is afterwards (or a wrapper holding it). */
  async change(method, path, body, done) {
    try {
      const answer = await api.request(method, path, body);
      this.render(answer.person || answer);
      this.announce(done);
      return true;
    } catch (error) {
      this.alert(error.message);
      return false;
    }
  }

  render(person) {
    this.person = person;
    this.root.hidden = false;
    const [self] = person.identities;
    fill(
      this.root,
      h("h3", { id: "person-title" }, `About ${identityName(self)}`),
      h(
        "ul",
        { className: "person-identities", "aria-label": "Identities" },
        person.identities.map((identity) => this.identityItem(identity)),
      ),
      this.history(person.conversations),
      this.linkForm(),
      this.notes(person.notes),
      this.me?.role === "admin" ? this.privacy(person) : null,
    );
  }

  identityItem(identity) {
    return h(
      "li",
      { className: "person-identity" },
      h("span", { className: "platform" }, platformName(identity.platform)),
      " ",
      h("span", { className: "who" }, identityName(identity)),
      identity.link
        ? [
            h("span", { className: "linked-by" }, ` linked by ${identity.link.linked_by || "an agent"}`),
            " ",
            h(
              "button",
              {
                type: "button",
                className: "unlink",
                "aria-label": `Unlink ${platformName(identity.platform)} ${identityName(identity)}`,
                on: {
                  click: () =>
                    this.change("DELETE", `${this.path}/links/${identity.link.id}`, undefined, "Identity unlinked."),
                },
              },
              "Unlink",
            ),
          ]
        : null,
    );
  }

  history(conversations) {
    return h(
      "section",
      { className: "person-history", "aria-labelledby": "person-history-title" },
      h("h4", { id: "person-history-title" }, "Conversations"),
      h(
        "ol",
        { className: "person-conversations" },
        conversations.map((c) => {
          const label = `${platformName(c.platform)} · ${c.channel} · ${clockTime(c.last_at)} · ${STATUSES[c.status] || c.status}`;
          const current = c.id === this.conversationId;
          return h(
            "li",
            { className: current ? "current" : "" },
            current
              ? h("span", { "aria-current": "true" }, `${label} (this one)`)
              : h("a", { href: `#/c/${c.id}` }, label),
            h("span", { className: "first-line" }, c.first_line),
          );
        }),
      ),
    );
  }

  linkForm() {
    const platforms = vocabulary.platforms.length ? vocabulary.platforms : ["x", "facebook", "instagram", "messenger", "mastodon", "bluesky"];
    const platform = h(
      "select",
      { id: "person-link-platform", name: "platform" },
      platforms.map((p) => h("option", { value: p }, platformName(p))),
    );
    const handle = h("input", { id: "person-link-handle", name: "handle", required: true, maxLength: 200, autocomplete: "off" });
    return h(
      "form",
      {
        className: "person-link",
        on: {
          submit: async (event) => {
            event.preventDefault();
            const body = { platform: platform.value, handle: handle.value.trim() };
            await this.change("POST", `${this.path}/links`, body, "Identity linked.");
          },
        },
      },
      h("label", { for: "person-link-platform" }, "Link another identity"),
      platform,
      h("label", { for: "person-link-handle", className: "visually-hidden" }, "Handle"),
      handle,
      h("button", { type: "submit" }, "Link"),
    );
  }

  notes(notes) {
    const text = h("textarea", { id: "person-note-text", rows: 2, maxLength: 1000, required: true });
    return h(
      "section",
      { className: "person-notes", "aria-labelledby": "person-notes-title" },
      h("h4", { id: "person-notes-title" }, "Notes about this person"),
      h(
        "ul",
        {},
        notes.map((n) =>
          h(
            "li",
            {},
            h("span", { className: "note-text" }, n.text),
            h("span", { className: "note-by" }, ` — ${n.author_name || "an agent"}, ${clockTime(n.created_at)}`),
          ),
        ),
      ),
      h(
        "form",
        {
          on: {
            submit: async (event) => {
              event.preventDefault();
              await this.change("POST", `${this.path}/notes`, { text: text.value }, "Note added.");
            },
          },
        },
        h("label", { for: "person-note-text", className: "visually-hidden" }, "Note about this person"),
        text,
        h("button", { type: "submit" }, "Add person note"),
      ),
    );
  }

  /** Admins: the existing data-protection API, for every identity the panel shows. */
  privacy(person) {
    const identities = person.identities.map((i) => ({ platform: i.platform, author_id: i.author_id, handle: i.handle }));
    const status = h("p", { className: "person-privacy-status", role: "status" });
    return h(
      "section",
      { className: "person-privacy", "aria-label": "Data protection" },
      h(
        "button",
        {
          type: "button",
          on: {
            click: async () => {
              try {
                const data = await api.request("POST", "/v1/privacy/exports", { identities });
                const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
                const link = h("a", { href: URL.createObjectURL(blob), download: "person-export.json" }, "Download the export");
                fill(status, `${data.messages.length} messages exported. `, link);
              } catch (error) {
                this.alert(error.message);
              }
            },
          },
        },
        "Export their data",
      ),
      " ",
      h(
        "button",
        {
          type: "button",
          className: "danger",
          on: {
            click: async () => {
              const names = person.identities.map((i) => `${platformName(i.platform)} ${identityName(i)}`).join(", ");
              if (!window.confirm(`Erase everything Écoute holds about ${names}? This cannot be undone.`)) return;
              try {
                await api.request("POST", "/v1/privacy/erasures", { identities });
                fill(status, "Erasure requested: their messages, links and notes are being erased.");
                this.announce("Erasure requested.");
              } catch (error) {
                this.alert(error.message);
              }
            },
          },
        },
        "Erase this person…",
      ),
      status,
    );
  }
}
