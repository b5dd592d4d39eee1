// Presence in the top bar: the agent says whether they take work (available, away), and a
// lead or admin sees who is on. Automatic assignment gives conversations only to available
// agents; what it gives arrives through the desk's live updates like any claim. The desk
// starts as the server says (never set, or idle too long: offline), never as a guess.
import * as api from "./api.js";
import { fill, h } from "./dom.js";

const LABELS = { available: "Available", away: "Away", offline: "Offline" };
const TEAM_REFRESH_MS = 15000;

export class PresenceBar {
  constructor({ select, team, list, announce, alert }) {
    this.select = select;
    this.team = team;
    this.list = list;
    this.announce = announce;
    this.alert = alert;
    this.timer = null;
    select.addEventListener("change", () => this.set(select.value));
    team.addEventListener("toggle", () => this.watchTeam());
  }

  /** Shown for a signed-in user: their presence as the server has it; the team to leads. */
  async show(user) {
    this.select.hidden = false;
    this.team.hidden = !["lead", "admin"].includes(user.role);
    try {
      this.render((await api.myPresence()).presence);
    } catch (error) {
      if (error.status !== 401) this.alert(error.message);
    }
  }

  close() {
    this.team.open = false;
    this.team.hidden = true;
    this.watchTeam();
    fill(this.list);
  }

  render(state) {
    this.select.value = state;
    this.select.dataset.presence = state;
  }

  async set(state) {
    try {
      this.render((await api.setPresence(state)).presence);
      this.announce(`You are ${LABELS[state].toLowerCase()}.`);
      if (this.team.open) await this.refreshTeam();
    } catch (error) {
      if (error.status !== 401) this.alert(error.message);
    }
  }

  /** The team list refreshes while it is open, and not otherwise. */
  watchTeam() {
    clearInterval(this.timer);
    this.timer = null;
    if (!this.team.open) return;
    this.refreshTeam();
    this.timer = setInterval(() => this.refreshTeam(), TEAM_REFRESH_MS);
  }

  async refreshTeam() {
    try {
      const answer = await api.teamPresence();
      fill(this.list, (answer.members || []).map((m) => this.member(m)));
    } catch (error) {
      if (error.status !== 401) this.alert(error.message);
    }
  }

  member(m) {
    return h("li", { className: "on-now-row", dataset: { presence: m.presence } },
      h("span", { className: "on-now-dot", "aria-hidden": "true" }),
      h("span", { className: "on-now-name" }, m.display_name),
      h("span", { className: "on-now-state" }, LABELS[m.presence] || m.presence),
      h("span", { className: "on-now-load" }, `${m.open_claims}/${m.max_open_claims} open`));
  }
}
