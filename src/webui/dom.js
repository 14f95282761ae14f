// @ts-check
// Building the page. Every value from the agent is placed with text nodes or properties,
// never parsed as HTML: a service called "<img onerror=…>" must show as those characters.

/**
 * An element with attributes, properties and children. `on<event>` keys add listeners;
 * `value`, `checked`, `disabled` are set as properties; strings and numbers become text.
 * @param {string} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...any} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') {
        el.addEventListener(k.slice(2), v);
      } else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'readOnly') {
        /** @type {any} */ (el)[k] = v;
      } else if (k === 'dataset') {
        for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
      } else {
        el.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }
  append(el, children);
  return el;
}

/** @param {Node} el @param {any[]} children */
function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replace an element's children. @param {Element} el @param {...any} children */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A link inside the app: the router handles the click, the URL stays shareable. */
export function link(href, ...children) {
  return h('a', { href, 'data-link': true }, ...children);
}

/** A health chip: `passing`, `warning`, `critical` or anything else (shown dim). */
export function chip(status, text) {
  return h('span', { class: `chip ${status}` }, text ?? status);
}

/** Tags as small labels. @param {string[] | null | undefined} tags */
export function tags(tags) {
  if (!tags || tags.length === 0) return h('span', { class: 'muted' }, '—');
  return h('span', { class: 'tags' }, tags.map((t) => h('span', { class: 'tag' }, t)));
}

/**
 * A table whose rows are kept by key, so a live update touches only the rows that changed
 * and 5,000 services do not rebuild 5,000 rows on every index change.
 */
export class KeyedTable {
  /**
   * @param {string[]} headers
   * @param {(item: any) => string} key
   * @param {(item: any) => any[]} cells  the row's cells (elements or text)
   * @param {string} [testid]
   */
  constructor(headers, key, cells, testid) {
    this.key = key;
    this.cells = cells;
    this.tbody = h('tbody');
    this.el = h('table', { class: 'grid', 'data-testid': testid },
      h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))), this.tbody);
    /** @type {Map<string, {sig: string, tr: HTMLElement}>} */
    this.rows = new Map();
    this.generation = 0;
  }

  /**
   * Show `items` in order. The first `eager` rows (more than a screen) go in now; the rest
   * follow in chunks on later tasks so the first screen paints early on a very long list.
   * @param {any[]} items
   * @param {number} [eager]
   */
  update(items, eager = 100) {
    const gen = ++this.generation;
    const old = this.rows;
    /** @type {Map<string, {sig: string, tr: HTMLElement}>} */
    const next = new Map();
    this.rows = next;
    // Rows are built (or reused) only when their chunk is due: the first screen does not
    // wait for the 5,000th row.
    const rows = (/** @type {number} */ from, /** @type {number} */ to) => {
      /** @type {HTMLElement[]} */
      const out = [];
      for (let i = from; i < to && i < items.length; i++) {
        const item = items[i];
        const k = this.key(item);
        const sig = JSON.stringify(item);
        let row = old.get(k);
        if (!row || row.sig !== sig) {
          row = { sig, tr: h('tr', { 'data-key': k }, this.cells(item).map((c) => h('td', null, c))) };
        }
        next.set(k, row);
        out.push(row.tr);
      }
      return out;
    };
    this.tbody.replaceChildren(...rows(0, eager));
    let at = eager;
    const more = () => {
      if (gen !== this.generation || at >= items.length) return;
      this.tbody.append(...rows(at, at + 500));
      at += 500;
      setTimeout(more, 0);
    };
    if (at < items.length) setTimeout(more, 0);
  }
}

/**
 * A modal question; resolves true only when the named action is confirmed.
 * @param {string} title
 * @param {any} body
 * @param {string} action  the confirm button's label
 * @param {boolean} [danger]
 * @returns {Promise<boolean>}
 */
export function confirmDialog(title, body, action, danger = true) {
  return new Promise((resolve) => {
    const dlg = /** @type {HTMLDialogElement} */ (h('dialog', { class: 'confirm', 'aria-label': title }));
    const done = (/** @type {boolean} */ ok) => {
      dlg.close();
      dlg.remove();
      resolve(ok);
    };
    fill(dlg,
      h('h2', null, title),
      h('div', { class: 'dialog-body' }, body),
      h('div', { class: 'buttons' },
        h('button', { type: 'button', onclick: () => done(false) }, 'Cancel'),
        h('button', { type: 'button', class: danger ? 'danger' : 'primary', onclick: () => done(true) }, action)));
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); done(false); });
    document.body.appendChild(dlg);
    dlg.showModal();
  });
}

/**
 * A modal form; `submit` runs on confirmation and may throw to keep the dialog open with
 * the error shown.
 * @param {string} title
 * @param {HTMLElement[]} fields
 * @param {string} action
 * @param {(form: HTMLFormElement) => Promise<void>} submit
 */
export function formDialog(title, fields, action, submit) {
  const error = h('p', { class: 'error', role: 'alert' });
  const form = /** @type {HTMLFormElement} */ (h('form', { method: 'dialog' },
    h('h2', null, title),
    fields,
    error,
    h('div', { class: 'buttons' },
      h('button', { type: 'button', value: 'cancel', onclick: () => close() }, 'Cancel'),
      h('button', { type: 'submit', class: 'primary' }, action))));
  const dlg = /** @type {HTMLDialogElement} */ (h('dialog', { class: 'form', 'aria-label': title }, form));
  const close = () => { dlg.close(); dlg.remove(); };
  dlg.addEventListener('close', () => dlg.remove());
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    fill(error);
    try {
      await submit(form);
      close();
    } catch (err) {
      fill(error, String(/** @type {any} */ (err)?.message ?? err));
    }
  });
  document.body.appendChild(dlg);
  dlg.showModal();
  const first = /** @type {HTMLElement | null} */ (form.querySelector('input, textarea, select'));
  first?.focus();
}

/** A labelled input for `formDialog`. */
export function field(label, name, attrs = {}) {
  const tag = attrs.multiline ? 'textarea' : 'input';
  const { multiline, hint, ...rest } = attrs;
  return h('label', { class: 'field' }, h('span', null, label),
    h(tag, { name, ...rest }), hint ? h('small', { class: 'muted' }, hint) : null);
}

/** Seconds or nanoseconds as Consul writes durations, for people. */
export function ago(ts) {
  if (!ts) return '—';
  const d = Date.now() - Date.parse(ts);
  if (!Number.isFinite(d)) return ts;
  const s = Math.max(0, Math.round(d / 1000));
  if (s < 90) return `${s}s ago`;
  if (s < 5400) return `${Math.round(s / 60)}m ago`;
  if (s < 172800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}
