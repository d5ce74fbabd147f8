/** Audit search with every filter of /api/v1/audit/events, and the same filters exported. */
import { api, download } from './api.js';
import { auditColumns } from './columns.js';
import { h, say } from './dom.js';
import { apiQuery, filterForm, pagedTable } from './list.js';
import { operations, outcomes } from './vocabulary.js';

export const auditFilterSpecs = [
  { name: 'operation', label: 'Operations', type: 'multi', options: operations },
  { name: 'outcome', label: 'Outcome', type: 'select', options: outcomes },
  { name: 'userName', label: 'User name starts with', type: 'text' },
  { name: 'userId', label: 'User id', type: 'number' },
  { name: 'applicationId', label: 'Application id', type: 'number' },
  { name: 'sessionId', label: 'Session id', type: 'text' },
  { name: 'ip', label: 'Client address', type: 'text' },
  { name: 'userString', label: 'User string', type: 'text' },
  { name: 'path', label: 'Path starts with', type: 'text' },
  { name: 'from', label: 'Recorded from', type: 'datetime' },
  { name: 'to', label: 'Recorded before', type: 'datetime' },
  { name: 'untilPosition', label: 'As of position', type: 'number', min: 0 },
];

const specs = [
  ...auditFilterSpecs,
  { name: 'order', label: 'Order', type: 'select', options: ['desc', 'asc'], any: 'newest first' },
  { name: 'limit', label: 'Per page', type: 'number' },
];

/** The export's query: the filters only (no paging). */
function exportQuery(params, format, spreadsheetSafe) {
  const query = apiQuery(auditFilterSpecs, params);
  for (const name of ['cursor', 'limit', 'order']) query.delete(name);
  query.set('format', format);
  if (format === 'csv' && spreadsheetSafe) query.set('spreadsheetSafe', 'true');
  return query;
}

export async function auditPage(main, params, signal) {
  const results = h('section', { 'aria-label': 'Audit events found' });
  const exportButton = (format, label) =>
    h(
      'button',
      {
        type: 'button',
        onclick: async () => {
          try {
            say(`Saved ${await download('/api/v1/audit/export', exportQuery(params, format, safe.checked))}`);
          } catch (error) {
            say(`Export failed: ${error.message}`, true);
          }
        },
      },
      label,
    );
  // Off by default, as in the API: the file then holds values exactly as recorded.
  const safe = h('input', { id: 'spreadsheet-safe', type: 'checkbox' });
  main.replaceChildren(
    h('h1', { tabindex: -1 }, 'Audit events'),
    filterForm('/audit', specs, params),
    h(
      'div',
      { class: 'actions', role: 'group', 'aria-label': 'Export these filters' },
      exportButton('csv', 'Export CSV'),
      exportButton('ndjson', 'Export NDJSON'),
      h('label', { for: 'spreadsheet-safe' }, safe, ' Spreadsheet-safe CSV (formulas shown as text)'),
    ),
    results,
  );
  await pagedTable(results, {
    route: '/audit',
    specs,
    params,
    signal,
    caption: 'Audit events',
    columns: auditColumns,
    load: (query) => api('GET', '/api/v1/audit/events', { query, signal }),
  });
}
