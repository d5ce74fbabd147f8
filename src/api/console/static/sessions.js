/** Sessions: the filtered list, and one session with its timeline. */
import { api } from './api.js';
import { auditColumns, sessionColumns } from './columns.js';
import { h, time } from './dom.js';
import { filterForm, pagedTable } from './list.js';
import { sessionKinds, sessionStates } from './vocabulary.js';

const specs = [
  { name: 'userId', label: 'User id', type: 'number' },
  { name: 'applicationId', label: 'Application id', type: 'number' },
  { name: 'kind', label: 'Kind', type: 'select', options: sessionKinds },
  { name: 'state', label: 'State', type: 'select', options: sessionStates },
  { name: 'ip', label: 'Client address', type: 'text' },
  { name: 'userString', label: 'User string', type: 'text' },
  { name: 'from', label: 'Opened from', type: 'datetime' },
  { name: 'to', label: 'Opened before', type: 'datetime' },
  { name: 'order', label: 'Order', type: 'select', options: ['desc', 'asc'], any: 'newest first' },
  { name: 'limit', label: 'Per page', type: 'number' },
];

export async function sessionsPage(main, params, signal) {
  const results = h('section', { 'aria-label': 'Sessions found' });
  main.replaceChildren(
    h('h1', { tabindex: -1 }, 'Sessions'),
    filterForm('/sessions', specs, params),
    results,
  );
  await pagedTable(results, {
    route: '/sessions',
    specs,
    params,
    signal,
    caption: 'Sessions',
    columns: sessionColumns,
    load: (query) => api('GET', '/api/v1/sessions', { query, signal }),
  });
}

/** The timeline as the log stood at a time or a position (point-in-time replay). */
const timelineSpecs = [
  { name: 'asOf', label: 'As of time', type: 'datetime' },
  { name: 'untilPosition', label: 'As of position', type: 'number', min: 0 },
  { name: 'limit', label: 'Per page', type: 'number' },
];

export async function sessionPage(main, params, signal, sessionId) {
  const route = `/sessions/${sessionId}`;
  const facts = h('dl', { class: 'facts' });
  const timeline = h('section', { 'aria-label': 'Timeline' });
  main.replaceChildren(
    h('h1', { tabindex: -1 }, 'Session ', sessionId),
    facts,
    h('h2', {}, 'Timeline'),
    filterForm(route, timelineSpecs, params, 'Show'),
    timeline,
  );
  const session = await api('GET', `/api/v1/sessions/${encodeURIComponent(sessionId)}`, { signal });
  const rows = [
    ['User', `${session.userName ?? '?'} (#${session.userId})`],
    ['Application', `${session.applicationName ?? ''} (${session.applicationId})`],
    ['Kind, method', `${session.kind}, ${session.method}`],
    ['Client', `${session.clientIp}${session.clientVersion ? `, ${session.clientVersion}` : ''}`],
    ['User string', session.userString ?? '—'],
    ['Opened (UTC)', time(session.openedAt)],
    ['State', session.state === 'ended' ? `ended ${time(session.endedAt)} (${session.endReason})` : 'open'],
    ['Activity', `${session.uploads} uploads, ${session.downloads} downloads, ${session.deletes} deletes`],
  ];
  facts.replaceChildren(...rows.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]));
  await pagedTable(timeline, {
    route,
    specs: timelineSpecs,
    params,
    signal,
    caption: 'Events of this session, oldest first',
    columns: auditColumns,
    load: (query) =>
      api('GET', `/api/v1/sessions/${encodeURIComponent(sessionId)}/timeline`, { query, signal }),
  });
}
