// The team page (#/team, admins): invite people by e-mail with a role, change roles,
// deactivate and reactivate, send password links, revoke invitations. Each link the server
// issues is shown once here (and mailed when the server has SMTP). The server does every
// check; names and e-mails reach the page only through h() (text nodes).
import * as api from "./api.js";
import { PageView, fill, h } from "./dom.js";
import { clockTime } from "./format.js";

const ROLES = ["agent", "lead", "admin"];
const KINDS = { invitation: "Invitation", set_password: "Password link" };

export class TeamView extends PageView {
  constructor({ root, announce, alert }) {
    super(root, { titleId: "team-title", refusal: "Only admins see the team", alert });
    this.announce = announce;
    this.me = null;
    this.issued = null; // the last link issued: shown until the page is left
  }

  close() {
    this.issued = null;
    super.close();
  }

  async load() {
    const [users, invitations] = await Promise.all([api.users(), api.invitations()]);
    return [users.items || [], invitations.items || []];
  }

  render(users, invitations) {
    fill(
      this.root,
      this.heading("Team"),
      this.inviteForm(),
      this.issuedBox(),
      h("h3", { id: "people-title" }, "People"),
      h("ul", { className: "team-list", "aria-labelledby": "people-title" }, users.map((u) => this.person(u))),
      h("h3", { id: "invitations-title" }, "Invitations waiting"),
      this.list("invitations-title", invitations, (i) => this.invitation(i), "No invitation is waiting."),
    );
  }

  inviteForm() {
    const form = h("form", { id: "invite-form", className: "invite", noValidate: true },
      h("h3", {}, "Invite someone"),
      h("label", { for: "invite-email" }, "E-mail"),
      h("input", { id: "invite-email", name: "email", type: "email", autocomplete: "off", required: true }),
      h("label", { for: "invite-name" }, "Name (optional)"),
      h("input", { id: "invite-name", name: "display_name", autocomplete: "off" }),
      h("label", { for: "invite-role" }, "Role"),
      h("select", { id: "invite-role", name: "role" }, ROLES.map((r) => h("option", { value: r }, r))),
      h("p", { id: "invite-error", className: "error", role: "alert" }),
      h("button", { type: "submit", className: "primary" }, "Send invitation"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = form.querySelector("#invite-error");
      error.textContent = "";
      try {
        const made = await api.invite(form.email.value.trim(), form.role.value, form.display_name.value.trim());
        this.issued = made;
        this.announce(`Invitation for ${made.email} ${made.mailed ? "mailed" : "ready: copy its link"}.`);
        await this.refresh();
        document.getElementById("issued-link")?.focus();
      } catch (failure) {
        error.textContent = failure.problem.errors?.[0]?.pointer === "/email" ? "Enter an e-mail address." : failure.message;
      }
    });
    return form;
  }

  issuedBox() {
    const made = this.issued;
    if (!made) return null;
    const input = h("input", { id: "issued-link", readOnly: true, value: made.link, "aria-describedby": "issued-help" });
    const copy = h("button", {
      type: "button",
      on: { click: async () => {
        input.select();
        try {
          await navigator.clipboard.writeText(made.link);
          this.announce("Link copied.");
        } catch {
          this.announce("Select the link and copy it.");
        }
      } },
    }, "Copy");
    return h("section", { id: "issued", className: "issued", "aria-labelledby": "issued-title" },
      h("h3", { id: "issued-title" }, `${KINDS[made.kind] || "Link"} for ${made.email} (${made.role})`),
      h("label", { for: "issued-link" }, "One-time link"),
      h("div", { className: "issued-row" }, input, copy),
      h("p", { id: "issued-help", className: "hint" },
        made.mailed ? `Mailed to ${made.email}. ` : `Not mailed (${made.mail_error}): send it yourself. `,
        `It works once, until ${clockTime(made.expires_at)}, and is shown only now.`));
  }

  person(user) {
    const self = this.me && user.id === this.me.id;
    const name = user.display_name && user.display_name !== user.email ? `${user.display_name} · ` : "";
    const state = [
      user.active ? (user.has_password ? "active" : "no password yet") : "deactivated",
      user.two_factor ? "two-factor on" : user.must_enrol ? "must enrol in two-factor" : null,
    ].filter(Boolean).join(" · ");
    const role = h("select", {
      id: `role-${user.id}`, "aria-label": `Role of ${user.email}`, disabled: !user.active,
      on: { change: (event) => this.act(() => api.setRole(user.id, event.target.value), `${user.email} is now ${event.target.value}.`) },
    }, ROLES.map((r) => h("option", { value: r, selected: r === user.role }, r)));
    const actions = user.active
      ? [
        h("button", { type: "button", on: { click: () => this.link(() => api.passwordLink(user.id, false)) } }, "Password link"),
        self ? null : h("button", { type: "button", on: { click: () => this.act(() => api.deactivate(user.id), `${user.email} is deactivated and signed out everywhere.`) } }, "Deactivate"),
      ]
      : [h("button", { type: "button", on: { click: () => this.link(() => api.reactivate(user.id)) } }, "Reactivate")];
    return h("li", { className: `team-row${user.active ? "" : " team-inactive"}`, dataset: { email: user.email } },
      h("span", { className: "team-who" }, h("strong", {}, `${name}${user.email}`), self ? " (you)" : null,
        h("br"), h("span", { className: "hint" }, state)),
      role,
      h("span", { className: "team-actions" }, actions));
  }

  invitation(item) {
    return h("li", { className: "team-row", dataset: { email: item.email } },
      h("span", { className: "team-who" }, h("strong", {}, item.email), ` · ${item.role}`, h("br"),
        h("span", { className: "hint" }, `invited ${clockTime(item.created_at)}, until ${clockTime(item.expires_at)}`)),
      h("button", {
        type: "button", "aria-label": `Revoke the invitation of ${item.email}`,
        on: { click: () => this.act(() => api.revokeInvitation(item.id), `The invitation of ${item.email} is revoked.`) },
      }, "Revoke"));
  }

  async act(call, said) {
    try {
      await call();
      this.announce(said);
    } catch (failure) {
      this.alert(failure.message);
    }
    await this.refresh();
  }

  async link(call) {
    try {
      this.issued = await call();
      this.announce(`A link for ${this.issued.email} is ready.`);
    } catch (failure) {
      this.alert(failure.message);
    }
    await this.refresh();
    document.getElementById("issued-link")?.focus();
  }
}
