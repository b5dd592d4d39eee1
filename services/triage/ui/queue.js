// Read-only queue for the walking skeleton: polls GET /v1/queue every 2 s.
// Every customer-written string is rendered with textContent, never as HTML.
const form = document.getElementById("login");
const table = document.getElementById("queue");
const statusLine = document.getElementById("status");

function waited(seconds) {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function render(items) {
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const item of items) {
    const row = body.insertRow();
    const badge = document.createElement("span");
    badge.className = `badge ${item.priority}`;
    badge.textContent = item.priority;
    row.insertCell().append(badge);
    cell(row, waited(item.waiting_seconds));
    cell(row, `${item.platform} · ${item.channel}`);
    const author = item.latest_message ? item.latest_message.author : { handle: "" };
    cell(row, author.handle ? `@${author.handle}` : author.display_name || "");
    cell(row, item.latest_message ? item.latest_message.text : "", "text");
    const reasons = document.createElement("ul");
    reasons.className = "reasons";
    for (const reason of item.reasons) {
      const li = document.createElement("li");
      li.textContent = reason;
      reasons.append(li);
    }
    row.insertCell().append(reasons);
  }
  table.hidden = false;
  statusLine.textContent = `${items.length} conversation(s) waiting`;
}

async function poll() {
  const token = sessionStorage.getItem("ecoute-token");
  if (!token) { form.hidden = false; return; }
  try {
    const response = await fetch("/v1/queue?limit=200", { headers: { Authorization: `Bearer ${token}` } });
    if (response.status === 401) {
      sessionStorage.removeItem("ecoute-token");
      form.hidden = false;
      statusLine.textContent = "That token was refused.";
      return;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    form.hidden = true;
    render((await response.json()).items);
  } catch (error) {
    statusLine.textContent = `Cannot reach the queue (${error.message}); retrying.`;
  }
  setTimeout(poll, 2000);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem("ecoute-token", new FormData(form).get("token"));
  poll();
});
const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
if (fromHash) { sessionStorage.setItem("ecoute-token", fromHash); history.replaceState(null, "", "/"); }
poll();
