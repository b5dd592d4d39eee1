// Two-factor sign-in and access: enrolment (QR code, manual key, first code, recovery codes),
// turning it off, the signed-in devices and API tokens, and the password. The server does
// every check; this module only shows its answers.
import * as api from "./api.js";
import { clockTime } from "./format.js";
import { fill, h } from "./dom.js";

const $ = (id) => document.getElementById(id);
const METHODS = { password: "password", totp: "password and code", recovery_code: "password and recovery code", link: "a one-time link" };

/** The key in groups of four, as authenticator apps show it. */
function grouped(key) {
  return key.match(/.{1,4}/g).join(" ");
}

function codeForm({ label, button, onCode, hint }) {
  const id = `code-${Math.random().toString(36).slice(2, 8)}`;
  const input = h("input", {
    id, name: "code", autocomplete: "one-time-code", inputMode: "numeric", required: true,
    "aria-describedby": `${id}-error`,
  });
  const error = h("p", { id: `${id}-error`, className: "error", role: "alert" });
  const submit = h("button", { type: "submit", className: "primary" }, button);
  const form = h("form", { className: "code-form", noValidate: true },
    h("label", { for: id }, label), hint ? h("p", { className: "hint" }, hint) : null, input, error, submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = input.value.trim();
    if (!code) {
      error.textContent = "Enter the code.";
      input.focus();
      return;
    }
    submit.disabled = true;
    error.textContent = "";
    try {
      await onCode(code);
    } catch (failure) {
      error.textContent = failure.message;
      input.select();
    } finally {
      submit.disabled = false;
    }
  });
  return { form, input };
}

/**
 * Enrolment in `box`: the QR code and the key, then the first code, then the ten recovery
 * codes (shown once). `done()` is called when the user has seen them.
 */
export async function enrol(box, done) {
  const started = await api.request("POST", "/v1/me/two-factor/enrol");
  const { form, input } = codeForm({
    label: "Code from the app",
    button: "Turn on two-factor",
    hint: "The app shows a new 6-digit code every 30 seconds.",
    onCode: async (code) => {
      const answer = await api.request("POST", "/v1/me/two-factor/confirm", { code });
      showRecoveryCodes(box, answer.recovery_codes, done);
    },
  });
  fill(box,
    h("ol", { className: "steps" },
      h("li", {}, "Open an authenticator app on your phone and add an account."),
      h("li", {}, "Scan this QR code, or type the key below.",
        h("img", { src: started.qr_svg, className: "qr", width: 285, height: 285,
          alt: "QR code to scan with an authenticator app" }),
        h("p", { className: "manual-key" }, "Key: ",
          h("code", { id: "manual-key" }, grouped(started.secret)))),
      h("li", {}, "Enter the code the app shows.")),
    form);
  input.focus();
}

function showRecoveryCodes(box, codes, done) {
  const next = h("button", { type: "button", className: "primary", on: { click: () => done() } },
    "I have saved my recovery codes");
  fill(box,
    h("p", { className: "ok-note", role: "status" }, "Two-factor sign-in is on."),
    h("h3", { id: "recovery-title" }, "Recovery codes"),
    h("p", {}, "Each code signs you in once if you lose your phone. Save them somewhere safe: " +
      "they are shown only now."),
    h("ol", { id: "recovery-codes", className: "recovery-codes", "aria-labelledby": "recovery-title" },
      codes.map((code) => h("li", {}, h("code", {}, code)))),
    next);
  next.focus();
}

// ---- the Security dialog ---------------------------------------------------------------

export class SecurityDialog {
  constructor({ announce, signedOut }) {
    this.announce = announce;
    this.signedOut = signedOut;
    this.dialog = $("security");
    $("security-open").addEventListener("click", () => this.open());
    // Built when opened and emptied when closed: nothing of it lingers in the page.
    this.dialog.addEventListener("close", () => fill($("security-body")));
  }

  async open() {
    if (!this.dialog.open) {
      fill($("security-body"), this.sections());
      this.dialog.showModal();
    }
    await this.refresh();
  }

  sections() {
    const section = (id, title, ...content) =>
      h("section", { "aria-labelledby": id }, h("h3", { id }, title), ...content);
    const form = h("form", { id: "password-form", noValidate: true, on: { submit: (e) => this.changePassword(e) } },
      h("input", { type: "text", name: "username", autocomplete: "username", hidden: true, "aria-hidden": "true", tabIndex: -1 }),
      h("label", { for: "current-password" }, "Current password"),
      h("input", { id: "current-password", name: "current_password", type: "password", autocomplete: "current-password", required: true }),
      h("label", { for: "new-password" }, "New password (at least 12 characters)"),
      h("input", { id: "new-password", name: "new_password", type: "password", autocomplete: "new-password", minLength: 12, required: true }),
      h("p", { id: "password-error", className: "error", role: "alert" }),
      h("button", { type: "submit" }, "Change password"));
    return [
      section("tf-title", "Two-factor sign-in", h("div", { id: "tf-box" })),
      section("sessions-title", "Signed-in sessions", h("ul", { id: "sessions-list", className: "access" })),
      section("tokens-title", "API tokens", h("ul", { id: "tokens-list", className: "access" })),
      section("password-title", "Change your password", form,
        h("p", { className: "hint" }, "Changing it signs out your other sessions.")),
    ];
  }

  async refresh() {
    if (!this.dialog.open) return;
    try {
      const [status, access] = await Promise.all([
        api.request("GET", "/v1/me/two-factor"),
        api.request("GET", "/v1/sessions"),
      ]);
      if (!$("tf-box")) return; // closed meanwhile
      this.renderTwoFactor(status);
      this.renderSessions(access.sessions);
      this.renderTokens(access.tokens);
    } catch (failure) {
      if (failure.status !== 401 && $("tf-box")) fill($("tf-box"), h("p", { className: "error" }, failure.message));
    }
  }

  renderTwoFactor(status) {
    const box = $("tf-box");
    if (!status.enabled) {
      const start = h("button", { type: "button", className: "primary", id: "tf-start" }, "Turn on two-factor");
      start.addEventListener("click", async () => {
        try {
          await enrol(box, () => this.refresh());
        } catch (failure) {
          fill(box, h("p", { className: "error", role: "alert" }, failure.message));
        }
      });
      fill(box, h("p", {}, status.required
        ? "Your workspace requires two-factor sign-in."
        : "Two-factor sign-in is off: a password alone opens your account."), start);
      return;
    }
    const { form } = codeForm({
      label: "Code from the app, or a recovery code",
      button: "Turn off two-factor",
      onCode: async (code) => {
        await api.request("POST", "/v1/me/two-factor/disable", { code });
        this.announce("Two-factor sign-in is off; your other devices were signed out.");
        await this.refresh();
      },
    });
    fill(box,
      h("p", { id: "tf-state" }, `Two-factor sign-in is on. ${status.recovery_codes_left} recovery codes left.`),
      status.required ? h("p", { className: "hint" }, "Your workspace requires it: turning it off asks you to enrol again.") : null,
      form);
  }

  renderSessions(sessions) {
    fill($("sessions-list"), sessions.map((s) => {
      const what = `Signed in at ${clockTime(s.created_at)} with ${METHODS[s.method] || s.method}`;
      const device = s.user_agent ? s.user_agent.slice(0, 80) : "Unknown browser";
      const end = s.current
        ? h("strong", {}, "This device")
        : h("button", {
          type: "button", "aria-label": `Sign out the session: ${what}`,
          on: { click: () => this.revoke(`/v1/sessions/${encodeURIComponent(s.id)}`, "The session is signed out.") },
        }, "Sign out");
      return h("li", { className: "access-row" },
        h("span", {}, h("span", { className: "device" }, device), h("br"), what,
          `; active ${clockTime(s.last_seen_at)}`), end);
    }));
  }

  renderTokens(tokens) {
    fill($("tokens-list"), tokens.length ? tokens.map((t) => h("li", { className: "access-row" },
      h("span", {}, `${t.name} (created ${clockTime(t.created_at)})`),
      h("button", {
        type: "button", "aria-label": `Revoke the API token ${t.name}`,
        on: { click: () => this.revoke(`/v1/tokens/${encodeURIComponent(t.id)}`, "The token is revoked.") },
      }, "Revoke"))) : h("li", {}, "No API tokens."));
  }

  async revoke(path, message) {
    try {
      await api.request("DELETE", path);
      this.announce(message);
      await this.refresh();
    } catch (failure) {
      this.announce(failure.message);
    }
  }

  async changePassword(event) {
    event.preventDefault();
    const form = event.target;
    const error = $("password-error");
    error.textContent = "";
    try {
      const answer = await api.request("POST", "/v1/me/password", {
        current_password: form.current_password.value,
        new_password: form.new_password.value,
      });
      form.reset();
      this.announce(`Password changed; ${answer.sessions_revoked} other sessions signed out.`);
      await this.refresh();
    } catch (failure) {
      const detail = failure.problem.errors?.[0];
      error.textContent = detail?.pointer === "/new_password"
        ? "The new password needs at least 12 characters."
        : failure.message;
    }
  }
}
