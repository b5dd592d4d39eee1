// Starting points under the reply box: the answers of similar resolved conversations
// ("Use" puts one in the box to edit; nothing is ever sent from here), the saved replies
// filled for this customer, and the move to private messages where the platform allows it
// (on a Facebook or Instagram comment, "Send privately": Meta's private reply to the comment).
import * as api from "./api.js";
import { fill, h } from "./dom.js";

const SHOWN_CHARS = 220;
const filledByConversation = new Map(); // conversation id -> Map(saved reply id -> filled)

function short(text) {
  return text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS - 1)}…` : text;
}

/** The saved reply's text filled for this conversation's customer, when the server gave it. */
export function filledSaved(conversationId, savedId) {
  return filledByConversation.get(String(conversationId))?.get(String(savedId)) ?? null;
}

/** Put ``text`` in the reply box (at the cursor when it already holds a draft). */
function insert(box, text) {
  if (!box.value.trim()) {
    box.value = text;
  } else {
    const at = box.selectionStart ?? box.value.length;
    box.value = box.value.slice(0, at) + text + box.value.slice(box.selectionEnd ?? at);
  }
  box.focus();
}

/** "Send privately": the draft goes as Meta's private reply to the comment (a message to the
 *  commenter, one per comment, within 7 days of it) instead of a public reply. */
function sendPrivately(draft, announce) {
  return h(
    "label",
    { className: "send-private" },
    h("input", {
      type: "checkbox",
      id: "send-private",
      checked: Boolean(draft().private),
      on: {
        change: (event) => {
          draft().private = event.target.checked;
          announce(event.target.checked
            ? "The reply will go as a private message to the commenter."
            : "The reply will go publicly under the comment.");
        },
      },
    }),
    " Send privately (one message to the commenter, within 7 days of the comment)",
  );
}

/** Load and show the starting points of conversation ``id`` in ``container``. ``current()``
 *  is the id shown now (an answer for another conversation is dropped); ``draft()`` its draft;
 *  ``changed()`` tells the composer the box changed (its counter and warnings);
 *  ``privateReply``: the reply may go as Meta's private reply (a Facebook/Instagram comment). */
export async function showSuggestions({ container, id, current, box, draft, changed, announce, privateReply }) {
  fill(container);
  let found;
  try {
    found = await api.suggestions(id);
  } catch {
    return; // starting points are a help: the reply box works without them
  }
  if (current() !== String(id)) return;
  filledByConversation.set(
    String(id),
    new Map((found.saved_replies || []).map((s) => [String(s.id), s.text])),
  );
  const use = async (suggestion, button) => {
    button.disabled = true;
    try {
      const { text } = await api.useSuggestion(id, suggestion.id);
      if (current() !== String(id)) return;
      insert(box, text);
      const mine = draft();
      mine.text = box.value;
      mine.savedId = null;
      mine.incidentId = null;
      mine.suggestionId = suggestion.id;
      changed();
      announce("Inserted the suggestion: edit it for this person before sending.");
    } finally {
      button.disabled = false;
    }
  };
  const items = (found.suggestions || []).map((s, i) =>
    h(
      "li",
      { className: "suggestion" },
      h("p", { className: "suggestion-asked" }, h("span", { className: "hint" }, "They wrote: "), short(s.customer_text)),
      h("p", { className: "suggestion-answer" }, short(s.text)),
      h("button", {
        type: "button",
        className: "use-suggestion",
        "aria-label": `Use suggestion ${i + 1}`,
        on: { click: (event) => use(s, event.currentTarget) },
      }, "Use"),
    ),
  );
  const move = found.private;
  const privately = move?.offered
    ? h("button", {
        type: "button",
        id: "move-private",
        on: {
          click: () => {
            insert(box, move.text);
            const mine = draft();
            mine.text = box.value;
            changed();
            announce("Inserted an invitation to private messages: edit it before sending.");
          },
        },
      }, "Invite to private messages")
    : null;
  fill(
    container,
    items.length
      ? [
          h("h4", { id: "suggestions-title" }, "Answers to similar resolved conversations"),
          h("ol", { className: "suggestions", "aria-labelledby": "suggestions-title" }, items),
        ]
      : null,
    privately,
    privately && privateReply ? sendPrivately(draft, announce) : null,
  );
}
