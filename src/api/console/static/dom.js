/**
 * Building the page: elements made with the DOM, every value set as text (textContent,
 * setAttribute), never parsed as HTML, so a path or user string holding markup stays text.
 */

/** An element: h('a', {href: '#/x', onclick: f}, 'text', child, …). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, '');
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A table with a caption and column headers; each column is [header, row => cell content, class]. */
export function table(caption, columns, rows) {
  return h(
    'table',
    {},
    h('caption', {}, caption),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        columns.map(([title]) => h('th', { scope: 'col' }, title)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.map((row) => tableRow(columns, row)),
    ),
  );
}

export function tableRow(columns, row) {
  return h(
    'tr',
    {},
    columns.map(([, cell, className]) => h('td', { class: className }, cell(row) ?? '')),
  );
}

/** Time as UTC, to the second: what auditors compare across systems. */
export function time(iso) {
  return iso ? `${iso.slice(0, 19).replace('T', ' ')}Z` : '';
}

/** One labelled input of a filter form; `field.type` is text, number, datetime, select or multi. */
export function field(spec, value) {
  const id = `f-${spec.name}`;
  let control;
  if (spec.type === 'select' || spec.type === 'multi') {
    const chosen = new Set(Array.isArray(value) ? value : value ? [value] : []);
    control = h(
      'select',
      { id, name: spec.name, multiple: spec.type === 'multi', size: spec.type === 'multi' ? 4 : undefined },
      spec.type === 'select' ? h('option', { value: '' }, spec.any ?? 'any') : null,
      spec.options.map((o) => h('option', { value: o, selected: chosen.has(o) }, o)),
    );
  } else {
    const type = spec.type === 'datetime' ? 'datetime-local' : spec.type;
    control = h('input', {
      id,
      name: spec.name,
      type,
      value: value ?? '',
      min: spec.type === 'number' ? (spec.min ?? 1) : undefined,
      step: spec.type === 'datetime' ? 1 : undefined,
      autocomplete: 'off',
    });
  }
  return h('label', { for: id }, spec.label, control);
}

/** The filled fields of a form as URL parameters (multi-selects repeat their name). */
export function formParams(form) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (typeof value === 'string' && value.trim() !== '') params.append(name, value.trim());
  }
  return params;
}

/** Says something in the polite live region at the top (errors in red). */
export function say(text, error = false) {
  const status = document.getElementById('status');
  status.textContent = text;
  status.classList.toggle('error', error);
}

let pending = '';

/** Says `text` once the page the app is going to has been shown (the status line is cleared on each). */
export function sayNext(text) {
  pending = text;
}

/** On a change of page: the line kept by sayNext, or nothing. */
export function sayPending() {
  say(pending);
  pending = '';
}
