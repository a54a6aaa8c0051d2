// Building the page. Every value from the API goes in as text (textContent or an attribute),
// never as markup: a member named `<img onerror=…>` shows those characters, nothing runs.

export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs = {}, ...children) {
  return build(document.createElementNS('http://www.w3.org/2000/svg', tag), attrs, children);
}

function build(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

let ids = 0;
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

export function text(value) {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** `2026-12-07T09:15:00.123Z` → `2026-12-07 09:15:00 UTC`. */
export function when(value) {
  if (!value) return '—';
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(value);
  return m ? `${m[1]} ${m[2]} UTC` : String(value);
}

export function link(href, label) {
  return h('a', { href }, text(label));
}

export function heading(title, ...rest) {
  return h('h1', { tabindex: '-1' }, title, ...rest);
}

/** A definition list of `[label, value]` pairs. */
export function facts(pairs, label) {
  return h('dl', { class: 'facts', 'aria-label': label },
    pairs.map(([term, value]) => [h('dt', {}, term), h('dd', {}, value instanceof Node ? value : text(value))]));
}

export function loading(what = 'Loading…') {
  return h('p', { class: 'loading', 'aria-busy': 'true' }, what);
}

/** An error in place, with a way to try again when one is given. */
export function failure(error, retry) {
  const box = h('div', { class: `error ${error.kind ?? ''}`, role: 'alert' }, h('p', {}, error.message));
  if (retry) box.append(h('button', { type: 'button', onclick: retry }, 'Try again'));
  return box;
}

/**
 * A view of one record: `title` while it loads (and beside an error, with "Try again"), then
 * `render(data, reload)`'s elements. `read()` answers the API's `{data}`.
 */
export function recordView(title, read, render, attrs = {}) {
  const box = h('section', attrs, heading(title), loading());
  const load = async () => {
    try {
      const { data } = await read();
      fill(box, ...render(data, load));
      box.querySelector('h1')?.focus();
    } catch (error) {
      fill(box, heading(title), failure(error, load));
    }
  };
  load();
  return box;
}

/** A table: `columns` are `{label, cell(row)}`; `empty` is shown when there are no rows. */
export function table(caption, columns, rows, empty) {
  const body = h('tbody');
  const t = h('table', {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.label)))),
    body);
  addRows(t, columns, rows);
  if (rows.length === 0) return h('div', {}, t, h('p', { class: 'empty' }, empty));
  return t;
}

function addRows(t, columns, rows) {
  const body = t.tBodies[0];
  for (const row of rows) {
    body.append(h('tr', {}, columns.map((c) => {
      const value = c.cell(row);
      return h('td', {}, value instanceof Node ? value : text(value));
    })));
  }
}

/**
 * A paged list: loads the first page, then "Load more" appends the next (the API's cursor).
 * `load(cursor)` answers `{data, paging}`.
 */
export function pagedList({ caption, columns, load, empty }) {
  const box = h('div', { class: 'list' }, loading());
  let t = null;
  const more = h('button', { type: 'button', class: 'more', hidden: true }, 'Load more');
  let cursor = null;
  const page = async () => {
    more.disabled = true;
    try {
      const answer = await load(cursor);
      cursor = answer.paging?.nextCursor ?? null;
      if (!t) {
        const rendered = table(caption, columns, answer.data, empty);
        t = rendered.tagName === 'TABLE' ? rendered : rendered.querySelector('table');
        fill(box, rendered, more);
      } else {
        addRows(t, columns, answer.data);
        box.querySelector('.error')?.remove();
      }
      more.hidden = !cursor;
    } catch (error) {
      if (!t) fill(box, failure(error, page));
      else box.insertBefore(failure(error), more);
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', page);
  page();
  return box;
}

/**
 * Tabs (WAI-ARIA pattern): arrow keys, Home and End move between them; each panel is built when
 * first shown. `tabs` are `{id, label, panel()}`.
 */
export function tabs(label, items) {
  const list = h('div', { role: 'tablist', 'aria-label': label, class: 'tabs' });
  const panels = h('div', { class: 'panels' });
  const buttons = [];
  const built = new Map();
  const select = (index, focus) => {
    buttons.forEach((b, i) => {
      const on = i === index;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
      const panel = built.get(i);
      if (panel) panel.hidden = !on;
    });
    if (!built.has(index)) {
      const item = items[index];
      const panel = h('div', { role: 'tabpanel', id: `panel-${item.id}`, 'aria-labelledby': `tab-${item.id}`, tabindex: '0' }, item.panel());
      built.set(index, panel);
      panels.append(panel);
    }
    if (focus) buttons[index].focus();
  };
  items.forEach((item, index) => {
    const b = h('button', {
      type: 'button', role: 'tab', id: `tab-${item.id}`, 'aria-controls': `panel-${item.id}`,
      onclick: () => select(index, false),
      onkeydown: (e) => {
        const last = items.length - 1;
        const to = { ArrowRight: index === last ? 0 : index + 1, ArrowLeft: index === 0 ? last : index - 1, Home: 0, End: last }[e.key];
        if (to !== undefined) { e.preventDefault(); select(to, true); }
      },
    }, item.label);
    buttons.push(b);
    list.append(b);
  });
  select(0, false);
  return h('div', { class: 'tabbed' }, list, panels);
}

/** Says `message` in the page's status line (read out by screen readers). */
export function notify(message) {
  const notice = document.getElementById('notice');
  notice.textContent = message;
}

/** Shows `hash`'s view, also when it is the one shown (to load it again). */
export function navigate(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

/** Replaces `el`'s children with `children`, leaving out the absent ones (null, false). */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}
