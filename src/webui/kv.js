// @ts-check
// The KV tree. Folders follow `?keys&separator=/` as a blocking query; a key is edited with
// `?cas=<ModifyIndex>` so two editors never silently overwrite each other.

import { call, escapePath, hasDotSegment } from './api.js';
import { KeyedTable, confirmDialog, field, fill, formDialog, h, link } from './dom.js';
import { navigate, status } from './app.js';
import { liveList } from './views.js';

/** `kv/<path>`: a folder when the path is empty or ends in `/`, else one key. @param {import('./app.js').Ctx} ctx */
export function kvView(ctx) {
  const key = ctx.rest.join('/');
  if (key === '' || key.endsWith('/')) folderView(ctx, key);
  else keyView(ctx, key);
}

/** The app URL of a key or folder. @param {string} key */
function kvHref(key) {
  return `kv/${escapePath(key)}`;
}

/** Links to each folder above `key`. @param {string} key */
function crumbs(key) {
  const parts = key.split('/');
  const out = [link('kv/', 'Key/Value')];
  let at = '';
  for (let i = 0; i < parts.length - 1; i++) {
    at += `${parts[i]}/`;
    out.push(' / ', link(kvHref(at), parts[i] || '(empty)'));
  }
  if (parts[parts.length - 1]) out.push(' / ', h('span', null, parts[parts.length - 1]));
  return h('p', { class: 'crumbs' }, out);
}

/** The parent folder of a key or folder. @param {string} key */
function parent(key) {
  const trimmed = key.endsWith('/') ? key.slice(0, -1) : key;
  const at = trimmed.lastIndexOf('/');
  return at < 0 ? '' : trimmed.slice(0, at + 1);
}

/** @param {import('./app.js').Ctx} ctx @param {string} prefix */
function folderView(ctx, prefix) {
  const table = new KeyedTable(['Name', 'Kind'], (k) => k, (k) => {
    const name = k.slice(prefix.length);
    const folder = k.endsWith('/');
    // A `.`/`..` segment would be resolved away by the browser: list it, do not link it.
    const label = hasDotSegment(k) ? h('span', { title: 'not reachable from a browser URL; use disco kv' }, name) : link(kvHref(k), name);
    return [label, h('span', { class: 'muted' }, folder ? 'folder' : 'key')];
  }, 'kv');
  /** @type {HTMLElement[]} */
  const actions = [h('button', { type: 'button', class: 'primary', onclick: () => createDialog(prefix) }, 'Create')];
  if (prefix) {
    actions.push(h('button', {
      type: 'button', class: 'danger', onclick: async () => {
        const ok = await confirmDialog(`Delete ${prefix}?`,
          h('p', null, 'The folder ', h('code', null, prefix), ' and every key under it are deleted.'), 'Delete folder');
        if (!ok) return;
        try {
          await call('DELETE', `/v1/kv/${escapePath(prefix)}?recurse`);
          status(`deleted ${prefix}`);
          navigate(kvHref(parent(prefix)));
        } catch (e) { status(/** @type {Error} */ (e).message, false); }
      },
    }, 'Delete folder'));
  }
  liveList(ctx, {
    before: [crumbs(prefix)],
    title: prefix || 'Key/Value',
    path: `/v1/kv/${escapePath(prefix)}?keys&separator=/`,
    table, noun: 'keys', placeholder: 'key name',
    text: (k) => k.slice(prefix.length),
    shape: (data) => (Array.isArray(data) ? data : []).filter((k) => k !== prefix)
      .sort((a, b) => Number(b.endsWith('/')) - Number(a.endsWith('/')) || (a < b ? -1 : a > b ? 1 : 0)),
    actions,
  });
}

/** @param {string} prefix */
function createDialog(prefix) {
  formDialog(`Create in ${prefix || 'the root'}`, [
    field('Key', 'key', { required: true, autocomplete: 'off', spellcheck: 'false', hint: 'End with / to create a folder.' }),
    field('Value', 'value', { multiline: true, rows: 6, spellcheck: 'false' }),
  ], 'Create', async (form) => {
    const f = new FormData(form);
    const name = String(f.get('key') ?? '').replace(/^\/+/, '');
    if (!name) throw new Error('A key needs a name.');
    const key = prefix + name;
    if (hasDotSegment(key)) throw new Error('A key segment cannot be "." or ".." here: browsers resolve them away.');
    const value = key.endsWith('/') ? '' : String(f.get('value') ?? '');
    const res = await call('PUT', `/v1/kv/${escapePath(key)}?cas=0`, { body: value });
    if (refused(res.data)) throw new Error(`${key} already exists.`);
    status(`created ${key}`);
  });
}

/** A CAS write the agent turned down answers `false`. @param {any} data */
function refused(data) {
  return data === false || (typeof data === 'string' && data.trim() === 'false');
}

/** Base64 → UTF-8 text, or `null` for bytes that are not text. @param {string | null} b64 */
function decode(b64) {
  const bytes = Uint8Array.from(atob(b64 ?? ''), (c) => c.charCodeAt(0));
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes), bytes };
  } catch (_) {
    return { text: null, bytes };
  }
}

/** @param {Uint8Array} bytes */
function hex(bytes) {
  const out = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = Array.from(bytes.slice(i, i + 16), (b) => b.toString(16).padStart(2, '0')).join(' ');
    out.push(`${i.toString(16).padStart(6, '0')}  ${row}`);
  }
  return out.join('\n');
}

/** @param {import('./app.js').Ctx} ctx @param {string} key */
function keyView(ctx, key) {
  const body = h('div', { 'data-testid': 'kv-key' });
  const message = h('p', { class: 'notice', role: 'alert', hidden: true });
  fill(ctx.root, crumbs(key), h('h1', null, key), message, body);
  let modifyIndex = 0;
  let flags = 0;

  const say = (/** @type {any[]} */ ...text) => { message.hidden = text.length === 0; fill(message, ...text); };

  const load = async (/** @type {string | null} */ draft) => {
    const res = await call('GET', `/v1/kv/${escapePath(key)}`, { allow404: true, signal: ctx.signal });
    const entry = Array.isArray(res.data) ? res.data[0] : null;
    if (!entry) {
      modifyIndex = 0;
      flags = 0;
      fill(body, h('p', { class: 'muted' }, 'No such key.'), editor(draft ?? '', true));
      ctx.rendered();
      return;
    }
    modifyIndex = entry.ModifyIndex;
    flags = entry.Flags ?? 0;
    const value = decode(entry.Value);
    fill(body,
      h('dl', { class: 'facts' },
        h('dt', null, 'Flags'), h('dd', null, String(flags)),
        h('dt', null, 'Modify index'), h('dd', { 'data-testid': 'modify-index' }, String(entry.ModifyIndex)),
        h('dt', null, 'Create index'), h('dd', null, String(entry.CreateIndex)),
        h('dt', null, 'Lock index'), h('dd', null, String(entry.LockIndex ?? 0)),
        h('dt', null, 'Session'), h('dd', null, entry.Session ? link('sessions', entry.Session) : '—')),
      value.text === null
        ? [h('p', { class: 'muted' }, `Binary value, ${value.bytes.length} bytes, shown as hex and read-only here.`),
          h('pre', { class: 'value hex' }, hex(value.bytes)), deleteButton()]
        : value.text.includes('\r')
        // A text area turns CR LF into LF, so saving would change bytes nobody edited.
        ? [h('p', { class: 'muted' }, 'The value has carriage returns, which a browser text box would rewrite: shown read-only; edit it with disco kv put.'),
          h('pre', { class: 'value' }, value.text), deleteButton()]
        : [draft !== null ? [h('h2', null, 'Current value'), h('pre', { class: 'value', 'data-testid': 'current-value' }, value.text)] : null,
          editor(draft ?? value.text, false)]);
    ctx.rendered();
  };

  const deleteButton = () => h('button', {
    type: 'button', class: 'danger', onclick: async () => {
      const ok = await confirmDialog(`Delete ${key}?`, h('p', null, 'The key ', h('code', null, key), ' is deleted.'), 'Delete');
      if (!ok) return;
      try {
        const res = await call('DELETE', `/v1/kv/${escapePath(key)}?cas=${modifyIndex}`);
        if (refused(res.data)) {
          say(`Not deleted: ${key} was changed by someone else since you opened it. The page shows its current value.`);
          await load(null);
          return;
        }
        status(`deleted ${key}`);
        navigate(kvHref(parent(key)));
      } catch (e) { say(/** @type {Error} */ (e).message); }
    },
  }, 'Delete');

  const editor = (/** @type {string} */ text, /** @type {boolean} */ create) => {
    const area = /** @type {HTMLTextAreaElement} */ (h('textarea', { class: 'value', rows: 14, spellcheck: 'false', 'aria-label': 'Value', value: text }));
    const save = async () => {
      try {
        const res = await call('PUT', `/v1/kv/${escapePath(key)}?cas=${modifyIndex}&flags=${flags}`, { body: area.value });
        if (refused(res.data)) {
          say(`Not saved: ${key} was changed by someone else since you opened it. `,
            'Its current value is shown; your text is still in the editor, and saving again replaces the current value.');
          await load(area.value);
          return;
        }
        say();
        status(`saved ${key}`);
        await load(null);
      } catch (e) { say(/** @type {Error} */ (e).message); }
    };
    return h('div', { class: 'editor' }, area,
      h('div', { class: 'buttons' },
        h('button', { type: 'button', class: 'primary', onclick: save }, create ? 'Create' : 'Save'),
        h('button', { type: 'button', onclick: () => { say(); load(null); } }, 'Reload'),
        create ? null : deleteButton()));
  };

  load(null).catch((e) => { if (!ctx.signal.aborted) say(e.message); });
}
