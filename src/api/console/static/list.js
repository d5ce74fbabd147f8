/**
 * A filtered, cursor-paged list: a filter form whose values live in the page's URL (so Back,
 * reload and links keep them), one page of results from the API, and Next / First page links
 * that follow the API's nextCursor.
 */
import { field, formParams, h, say, table } from './dom.js';

/** Goes to `#<route>?<params>` (the router renders it). */
export function go(route, params = new URLSearchParams()) {
  const text = params.toString();
  location.hash = `#${route}${text ? `?${text}` : ''}`;
}

/** The API query of the URL's parameters: page dropped, local date-times sent as UTC instants. */
export function apiQuery(specs, params) {
  const query = new URLSearchParams();
  const datetimes = new Set(specs.filter((s) => s.type === 'datetime').map((s) => s.name));
  for (const [name, value] of params) {
    if (name === 'page') continue;
    query.append(name, datetimes.has(name) ? new Date(value).toISOString() : value);
  }
  return query;
}

export function filterForm(route, specs, params, submitLabel = 'Search') {
  const form = h(
    'form',
    {
      class: 'filters',
      'aria-label': 'Filters',
      onsubmit: (event) => {
        event.preventDefault();
        go(route, formParams(form));
      },
    },
    specs.map((s) => field(s, s.type === 'multi' ? params.getAll(s.name) : params.get(s.name))),
    h('button', { type: 'submit' }, submitLabel),
    h('a', { href: `#${route}` }, 'Clear filters'),
  );
  return form;
}

/** Renders one page of `load(query)` ({items, nextCursor}) into `into`, with paging links. */
export async function pagedTable(into, { route, specs, params, load, caption, columns, signal }) {
  const number = Number(params.get('page') ?? '1');
  let page;
  try {
    page = await load(apiQuery(specs, params), signal);
  } catch (error) {
    if (signal.aborted) return null;
    say(`Could not load: ${error.message}`, true);
    return null;
  }
  if (signal.aborted) return null;
  const first = new URLSearchParams(params);
  first.delete('cursor');
  first.delete('page');
  const next = new URLSearchParams(first);
  if (page.nextCursor) {
    next.set('cursor', page.nextCursor);
    next.set('page', String(number + 1));
  }
  into.replaceChildren(
    table(`${caption} — page ${number}, ${page.items.length} shown`, columns, page.items),
    h(
      'nav',
      { class: 'paging', 'aria-label': 'Pages' },
      number > 1 ? h('a', { href: `#${route}?${first}` }, 'First page') : null,
      page.nextCursor
        ? h('a', { href: `#${route}?${next}`, rel: 'next' }, 'Next page')
        : h('span', {}, 'Last page'),
    ),
  );
  return page;
}
