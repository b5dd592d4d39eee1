// Building DOM without ever parsing HTML: every string becomes a text node or a property.
// Customer-written text (messages, handles, reasons) only ever reaches the page through here,
// so a message carrying "<img onerror=…>" or "<script>" is shown as those characters.

/**
 * h("p", {className: "x", "aria-label": "y"}, "text", child, [more, children])
 * Attributes whose name contains a dash (aria-*, data-*) or is "for"/"role" are set as
 * attributes; everything else as a property. Event handlers are added with `on: {click}`.
 * No attribute that takes a URL or script is ever set from data by callers.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "on") {
      for (const [type, handler] of Object.entries(value)) el.addEventListener(type, handler);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (name.includes("-") || name === "role" || name === "for") {
      el.setAttribute(name, value === true ? "" : String(value));
    } else {
      el[name] = value;
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.append(child);
    else el.append(document.createTextNode(String(child)));
  }
}

/** Replace an element's children (strings as text). */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A page shown in place of the queue (#/team, #/stats, #/tags): hidden until shown,
 *  emptied when left; show() refreshes it with the focus on its title (the element
 *  `titleId`). Subclasses write load() (what render() takes, as a list) and render(). */
export class PageView {
  constructor(root, { titleId, refusal, alert }) {
    this.root = root;
    this.titleId = titleId;
    this.refusal = refusal; // what the page says to a role the server refuses (403)
    this.alert = alert;
  }

  close() {
    this.root.hidden = true;
    fill(this.root);
  }

  /** Open the page; a page already open is left as it is (route() runs on both popstate and
   *  hashchange: a second show() rebuilt the forms under the person typing in them). */
  async show() {
    if (!this.root.hidden) return;
    this.root.hidden = false;
    await this.refresh({ focus: true });
  }

  /** Load and render the page, unless someone is typing in it (a live update waits). */
  async refresh({ focus = false } = {}) {
    if (this.root.hidden) return;
    const active = document.activeElement;
    if (!focus && this.root.contains(active) && active.matches("input, select")) return;
    try {
      const loaded = await this.load();
      if (!this.root.hidden) this.render(...loaded);
    } catch (error) {
      if (error.status === 403) fill(this.root, h("h2", { id: this.titleId, tabIndex: -1 }, this.refusal));
      else if (error.status !== 401) this.alert(error.message);
    }
    if (focus) document.getElementById(this.titleId)?.focus();
  }

  /** The page's top: the way back to the queue, and its title. */
  heading(title) {
    return [
      h("nav", { className: "incident-nav", "aria-label": "Back" }, h("a", { href: "#/" }, "← Queue")),
      h("h2", { id: this.titleId, tabIndex: -1 }, title),
    ];
  }

  /** A list of the page's items, named by the heading `labelledBy`; `empty` says there is none. */
  list(labelledBy, items, render, empty) {
    if (!items.length) return h("p", { className: "empty" }, empty);
    return h("ul", { className: "team-list", "aria-labelledby": labelledBy }, items.map(render));
  }
}

const signatures = new WeakMap();

/**
 * Keyed list update: an item whose data did not change keeps its DOM node (so focus, an
 * open form or a revealed text survive a refresh); changed items are re-rendered in place.
 * `render(item)` returns the element; `signature(item)` what, if changed, needs a re-render.
 */
export function reconcile(list, items, keyOf, render, signature = (item) => JSON.stringify(item)) {
  const old = new Map();
  for (const el of list.children) old.set(el.dataset.key, el);
  const focused = document.activeElement;
  const focusedKey = list.contains(focused) ? focused.closest("[data-key]")?.dataset.key : null;
  const focusedSelector = focusedKey ? focusSelector(focused) : null;
  let previous = null;
  for (const item of items) {
    const key = String(keyOf(item));
    const sig = signature(item);
    let el = old.get(key);
    if (!el || signatures.get(el) !== sig) {
      const fresh = render(item);
      fresh.dataset.key = key;
      signatures.set(fresh, sig);
      if (el) el.replaceWith(fresh);
      if (el && key === focusedKey && focusedSelector) {
        fresh.querySelector(focusedSelector)?.focus({ preventScroll: true });
      }
      el = fresh;
    }
    old.delete(key);
    const wanted = previous ? previous.nextElementSibling : list.firstElementChild;
    if (wanted !== el) list.insertBefore(el, wanted);
    previous = el;
  }
  for (const el of old.values()) el.remove();
}

function focusSelector(el) {
  if (el.id) return `#${CSS.escape(el.id)}`;
  const cls = [...el.classList].map((c) => `.${CSS.escape(c)}`).join("");
  return cls ? `${el.localName}${cls}` : null;
}

/** A random id for idempotent sends; crypto.randomUUID needs a secure context, so fall back. */
export function randomKey() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}
