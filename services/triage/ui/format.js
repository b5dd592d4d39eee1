// Words and numbers an agent reads: durations, SLA states, names of things.

export const SLA_STATES = {
  breached: "Breached",
  at_risk: "At risk",
  ok: "On track",
  paused: "Paused",
  none: "No clock",
  met: "Met",
  missed: "Missed",
  cancelled: "Cancelled",
};

export const CLOCK_KINDS = {
  first_response: "First response",
  next_response: "Next response",
  resolution: "Resolution",
};

/** Display names of platforms, keyed by the value the server names (GET /v1/vocabulary);
 * a platform missing here is shown as its value. */
export const PLATFORM_LABELS = {
  x: "X",
  facebook: "Facebook",
  instagram: "Instagram",
  messenger: "Messenger",
  mastodon: "Mastodon",
  bluesky: "Bluesky",
  whatsapp: "WhatsApp",
  threads: "Threads",
  youtube: "YouTube",
  other: "Other",
};

/** The platforms and intents as the server names them (GET /v1/vocabulary), once signed in:
 * the desk never spells these lists out itself. */
export const vocabulary = { platforms: [], intents: [] };

export function learnVocabulary(answer) {
  vocabulary.platforms = answer.platforms;
  vocabulary.intents = answer.intents;
}

export const STATUSES = { open: "Open", waiting: "Waiting on the customer", resolved: "Resolved" };

export const REPLY_STATES = { queued: "Sending…", delivered: "Delivered", failed: "Not delivered" };

/** "45 s", "12 min", "3 h 05 min", "2 d 4 h". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(Math.abs(seconds)));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** A live countdown: "18:04 left" under an hour, "2 h 05 min left", "overdue by 12 min". */
export function countdown(secondsLeft) {
  if (secondsLeft === null || secondsLeft === undefined) return "no deadline";
  if (secondsLeft < 0) return `overdue by ${duration(-secondsLeft)}`;
  if (secondsLeft < 3600) {
    const s = Math.floor(secondsLeft);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")} left`;
  }
  return `${duration(secondsLeft)} left`;
}

// In the agent's own locale and time zone (the browser's): "today" is the agent's today.
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTime = new Intl.DateTimeFormat(undefined, {
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
});
const yearDateTime = new Intl.DateTimeFormat(undefined, {
  day: "numeric",
  month: "short",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});

/** "14:05" today, "21 Nov, 14:05" another day of this year, "21 Nov 2025, 14:05" before:
 * an agent never takes a days-old message for this morning's. */
export function clockTime(iso, today = new Date()) {
  if (!iso) return "";
  const when = new Date(iso);
  if (when.toDateString() === today.toDateString()) return timeOnly.format(when);
  return (when.getFullYear() === today.getFullYear() ? dateTime : yearDateTime).format(when);
}

/** How the desk names a customer: their @handle where the platform has handles; a handle
 *  that is only digits is a phone number (WhatsApp), so the profile name comes first there. */
export function authorName(author) {
  if (!author) return "Customer";
  const phone = /^\+?\d+$/.test(author.handle || "");
  if (author.handle && !(phone && author.display_name)) return `@${author.handle}`;
  return author.display_name || "Customer";
}

export function platformName(platform) {
  return PLATFORM_LABELS[platform] || platform || "";
}

export function percent(value) {
  return value === null || value === undefined ? "" : `${Math.round(value * 100)} %`;
}
