/**
 * The live tail: /api/v1/audit/stream with the search's filters, newest row on top. The rows
 * are in an aria-live region; on a dropped connection it resumes after the last row it showed.
 */
import { stream } from './api.js';
import { auditFilterSpecs } from './audit.js';
import { auditColumns } from './columns.js';
import { h, say, table, tableRow } from './dom.js';
import { apiQuery, filterForm } from './list.js';

const specs = auditFilterSpecs.filter((s) => s.name !== 'untilPosition');
const MAX_ROWS = 500;

export async function livePage(main, params, signal) {
  const state = h('p', { id: 'live-state' }, 'Connecting…');
  const rows = table('Live audit events, newest first', auditColumns, []);
  const body = rows.querySelector('tbody');
  body.setAttribute('aria-live', 'polite');
  body.setAttribute('aria-relevant', 'additions');
  main.replaceChildren(
    h('h1', { tabindex: -1 }, 'Live tail'),
    filterForm('/live', specs, params, 'Follow'),
    state,
    rows,
  );
  const query = apiQuery(specs, params);
  let after;
  while (!signal.aborted) {
    try {
      await stream('/api/v1/audit/stream', query, {
        signal,
        after,
        on: {
          open: (position) => {
            after ??= position;
            state.textContent = `Following new events after position ${after}`;
          },
          row: (item) => {
            after = item.position;
            body.prepend(tableRow(auditColumns, item));
            if (body.rows.length > MAX_ROWS) body.lastElementChild.remove();
          },
          end: (reason) => {
            state.textContent = `Stream ended: ${reason}`;
          },
        },
      });
      if (signal.aborted || state.textContent.startsWith('Stream ended')) return;
    } catch (error) {
      if (signal.aborted) return;
      if (error.status === 401 || error.status === 403 || error.status === 400) {
        say(`Live tail refused: ${error.message}`, true);
        return;
      }
      state.textContent = `Connection lost (${error.message}); reconnecting…`;
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}
