/** Table columns shared by the pages: audit rows (search, timeline, live tail) and sessions. */
import { h, time } from './dom.js';

const sessionLink = (id) => (id ? h('a', { href: `#/sessions/${id}` }, id.slice(0, 8)) : '');
const who = (userName, userId) => (userId === null ? (userName ?? '') : `${userName ?? '?'} (#${userId})`);

export const auditColumns = [
  ['Position', (r) => r.position],
  ['Recorded (UTC)', (r) => time(r.at)],
  ['Operation', (r) => r.operation],
  ['Outcome', (r) => r.outcome],
  ['User', (r) => who(r.userName, r.userId)],
  ['Application', (r) => r.applicationId],
  ['Session', (r) => sessionLink(r.sessionId)],
  ['Client address', (r) => r.clientIp],
  ['Path', (r) => (r.previousPath ? `${r.previousPath} → ${r.path}` : r.path), 'path'],
  ['Bytes', (r) => r.size],
  ['User string', (r) => r.userString],
  ['Reason', (r) => r.reason ?? r.target],
];

export const sessionColumns = [
  ['Opened (UTC)', (s) => time(s.openedAt)],
  ['Session', (s) => sessionLink(s.sessionId)],
  ['User', (s) => who(s.userName, s.userId)],
  ['Application', (s) => s.applicationName ?? s.applicationId],
  ['Kind', (s) => s.kind],
  ['Client address', (s) => s.clientIp],
  ['State', (s) => (s.state === 'ended' ? `ended (${s.endReason ?? '?'})` : s.state)],
  ['Uploads', (s) => s.uploads],
  ['Downloads', (s) => s.downloads],
  ['Bytes in', (s) => s.bytesIn],
  ['Bytes out', (s) => s.bytesOut],
];
