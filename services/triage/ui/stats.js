// The leads' page (#/stats, leads and admins): GET /v1/stats for a chosen period — first
// response p50/p90 in business time, attainment, breaches, backlog and answers per agent,
// per channel and per priority. The server refuses agents (403); names reach the page only
// through h() (text nodes).
import * as api from "./api.js";
import { PageView, fill, h } from "./dom.js";
import { CLOCK_KINDS, PLATFORM_LABELS } from "./format.js";

const DAY = 86_400_000;
const PRESETS = [["today", "Today"], ["7", "7 days"], ["30", "30 days"]];

/** The period of a preset as the API's from/to, in the lead's own time zone. */
export function periodOf(preset, now = new Date()) {
  const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const from = preset === "today" ? midnight : new Date(now.getTime() - Number(preset) * DAY);
  return { from: from.toISOString(), to: now.toISOString() };
}

/** A business-time duration as a lead reads it: "4 min", "2 h 05", "—" when none. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")}`;
}

const share = (value) => (value === null || value === undefined ? "—" : `${Math.round(value * 100)} %`);

function table(caption, headers, rows, empty) {
  if (!rows.length) return h("section", {}, h("p", { className: "stats-caption" }, caption), h("p", { className: "empty" }, empty));
  return h("section", {},
    h("table", { className: "stats-table" },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell, i) =>
        i ? h("td", {}, String(cell)) : h("th", { scope: "row" }, String(cell)))))),
    ),
  );
}

export class StatsView extends PageView {
  constructor({ root, alert }) {
    super(root, { titleId: "stats-title", refusal: "Only leads see the stats", alert });
    this.preset = "7";
  }

  async load() {
    return [await api.request("GET", `/v1/stats?${new URLSearchParams(periodOf(this.preset))}`)];
  }

  presets() {
    return h("div", { className: "stats-presets", role: "group", "aria-label": "Period" },
      PRESETS.map(([value, label]) => {
        const button = h("button", { type: "button", "aria-pressed": String(value === this.preset) }, label);
        button.addEventListener("click", () => {
          this.preset = value;
          this.refresh();
        });
        return button;
      }),
    );
  }

  render(s) {
    const first = s.first_response;
    const breaches = Object.entries(s.breaches);
    fill(
      this.root,
      this.heading("Stats"),
      this.presets(),
      h("dl", { className: "stats-figures" },
        [
          ["First responses", String(first.answered)],
          ["Median (business time)", duration(first.p50_seconds)],
          ["90th percentile", duration(first.p90_seconds)],
          ["Within target", share(first.within_target)],
          ["Breaches", String(breaches.reduce((n, [, count]) => n + count, 0))],
        ].map(([name, value]) => h("div", {}, h("dt", {}, name), h("dd", {}, value))),
      ),
      table("Per agent", ["Agent", "Answers"], s.answers_per_agent.map((a) => [a.name, a.answers]), "No answer in this period."),
      table("Per channel", ["Channel", "Answers"],
        s.answers_per_channel.map((c) => [`${PLATFORM_LABELS[c.platform] || c.platform} · ${c.channel}`, c.answers]),
        "No answer in this period."),
      table("First response per priority", ["Priority", "Answered", "Median", "p90", "In target"],
        s.first_response_per_priority.map((p) => [p.priority, p.answered, duration(p.p50_seconds), duration(p.p90_seconds), share(p.within_target)]),
        "No first response in this period."),
      table("Breaches", ["Clock", "Breaches"], breaches.map(([kind, n]) => [CLOCK_KINDS[kind] || kind, n]), "No breach in this period."),
      table("Waiting now", ["Priority", "Conversations", "Oldest waiting"],
        s.backlog.map((b) => [b.priority, b.conversations, duration(b.oldest_waiting_seconds)]), "Nothing is waiting."),
    );
  }
}
