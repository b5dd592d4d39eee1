// The triage API as the desk uses it: the session cookie (HttpOnly, set by sign-in) and the
// CSRF token the server hands out with sign-in and with every GET /v1/me.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

let csrfToken = null;
let onSignedOut = () => {};

export function setCsrf(token) {
  csrfToken = token;
}

/** Called with the problem when a request finds the session gone (401). */
export function whenSignedOut(handler) {
  onSignedOut = handler;
}

let onEnrolmentRequired = () => {};

/** Called when the workspace now requires two-factor of this user, who has not enrolled. */
export function whenEnrolmentRequired(handler) {
  onEnrolmentRequired = handler;
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return { title: response.statusText };
  }
}

async function send(method, path, body, { allow401 = false } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, { title: "Offline", detail: "The desk cannot reach the server; retrying." });
  }
  if (response.ok) {
    return response.status === 204 ? null : response.json();
  }
  const problem = await problemOf(response);
  if (response.status === 401 && !allow401) onSignedOut(problem);
  if (response.status === 403 && problem.enrolment_required) onEnrolmentRequired(problem);
  throw new ApiError(response.status, problem);
}

/** A write; if the CSRF token went stale (another tab called /v1/me), fetch a fresh one once. */
async function write(path, body, method = "POST") {
  try {
    return await send(method, path, body);
  } catch (error) {
    if (error.status === 403 && /csrf/i.test(error.message)) {
      await me();
      return send(method, path, body);
    }
    throw error;
  }
}

/** Any call of the API (security.js): reads as they are, writes with the CSRF token. */
export function request(method, path, body) {
  return method === "GET" ? send("GET", path) : write(path, body, method);
}

export async function me() {
  const answer = await send("GET", "/v1/me", undefined, { allow401: true });
  setCsrf(answer.csrf_token);
  return { ...answer.user, enrolment_required: answer.enrolment_required };
}

/** The password step: signed in, or (two-factor on) a pending token for loginCode. */
export async function login(email, password, workspaceId) {
  const body = { email, password };
  if (workspaceId) body.workspace_id = workspaceId;
  const answer = await send("POST", "/v1/auth/login", body, { allow401: true });
  if (answer.csrf_token) setCsrf(answer.csrf_token);
  return answer;
}

/** The second step: a code from the authenticator app, or a recovery code. */
export async function loginCode(pendingToken, code) {
  const answer = await send(
    "POST", "/v1/auth/login/code", { pending_token: pendingToken, code }, { allow401: true },
  );
  setCsrf(answer.csrf_token);
  return answer;
}

/** What a one-time link is (its token travels in the body, never in a URL). */
export const linkInfo = (token) => send("POST", "/v1/auth/link", { token }, { allow401: true });

/** Use a one-time link: signed in (or, two-factor on, a pending token for loginCode). */
export async function acceptLink(token, password) {
  const body = password ? { token, password } : { token };
  const answer = await send("POST", "/v1/auth/link/accept", body, { allow401: true });
  if (answer.csrf_token) setCsrf(answer.csrf_token);
  return answer;
}

export async function logout() {
  try {
    await send("POST", "/v1/auth/logout", undefined, { allow401: true });
  } finally {
    setCsrf(null);
  }
}

export function queue(filters = {}) {
  const query = new URLSearchParams({ limit: "200" });
  for (const [name, value] of Object.entries(filters)) if (value) query.set(name, value);
  return send("GET", `/v1/queue?${query}`);
}

/** The workspace's messages matching words, a reference or a handle, newest first. */
export const search = (q) => send("GET", `/v1/search?${new URLSearchParams({ q, limit: "50" })}`);

/** The platforms and intents, as the server names them. */
export const vocabulary = () => send("GET", "/v1/vocabulary");

const cid = (id) => encodeURIComponent(String(id));

export const conversation = (id) => send("GET", `/v1/conversations/${cid(id)}`);
export const clocks = (id) => send("GET", `/v1/conversations/${cid(id)}/sla`);
export const claim = (id) => write(`/v1/conversations/${cid(id)}/claim`);
export const release = (id) => write(`/v1/conversations/${cid(id)}/release`);
export const claimNext = () => write("/v1/queue/claim-next");
export const status = (id, action) => write(`/v1/conversations/${cid(id)}/${action}`);
export const note = (id, text) => write(`/v1/conversations/${cid(id)}/notes`, { text });
export const savedReplies = () => send("GET", "/v1/saved-replies");
/** Starting points for a reply: similar resolved conversations' answers, filled saved replies. */
export const suggestions = (id) => send("GET", `/v1/conversations/${cid(id)}/suggestions`);
export const useSuggestion = (id, suggestionId) =>
  write(`/v1/conversations/${cid(id)}/suggestions/use`, { suggestion_id: suggestionId });
export const moderate = (id, messageId, action) =>
  write(`/v1/conversations/${cid(id)}/moderation`, { action, message_id: messageId });
export const correct = (messageId, field, value) =>
  write(`/v1/messages/${cid(messageId)}/correction`, { field, value });

/** A draft measured against its platform's limit, with the warnings it would get. */
export function replyCheck(id, text) {
  return write(`/v1/conversations/${cid(id)}/reply-check`, { text });
}

export function reply(id, text, clientKey, savedReplyId, incidentId, suggestionId, privately) {
  const body = { text, client_key: clientKey };
  if (privately) body.private = true; // Meta's private reply to the comment
  if (savedReplyId) body.saved_reply_id = savedReplyId;
  else if (incidentId) body.incident_id = Number(incidentId);
  else if (suggestionId) body.suggestion_id = suggestionId;
  return write(`/v1/conversations/${cid(id)}/replies`, body);
}

export const incidents = () => send("GET", "/v1/incidents?limit=100");
export const incident = (id) => send("GET", `/v1/incidents/${cid(id)}`);
export const incidentNote = (id, text) => write(`/v1/incidents/${cid(id)}/note`, { text }, "PUT");
export const closeIncident = (id) => write(`/v1/incidents/${cid(id)}/close`);
export const reopenIncident = (id) => write(`/v1/incidents/${cid(id)}/reopen`);
export const mergeIncident = (id, other) => write(`/v1/incidents/${cid(id)}/merge`, { incident_id: other });
export function splitIncident(id, conversationIds, label) {
  const body = { conversation_ids: conversationIds };
  if (label) body.label = label;
  return write(`/v1/incidents/${cid(id)}/split`, body);
}

export const users = () => send("GET", "/v1/users");
export const invitations = () => send("GET", "/v1/invitations");
export const invite = (email, role, displayName) =>
  write("/v1/invitations", { email, role, display_name: displayName || "" });
export const revokeInvitation = (id) => write(`/v1/invitations/${cid(id)}`, undefined, "DELETE");
export const setRole = (id, role) => write(`/v1/users/${cid(id)}/role`, { role }, "PUT");
export const deactivate = (id) => write(`/v1/users/${cid(id)}/deactivate`);
export const reactivate = (id) => write(`/v1/users/${cid(id)}/reactivate`);
export const passwordLink = (id, force) => write(`/v1/users/${cid(id)}/password-link`, { force });
export const myPresence = () => send("GET", "/v1/me/presence");
export const setPresence = (presence) => write("/v1/me/presence", { presence }, "PUT");
export const teamPresence = () => send("GET", "/v1/team/presence");
