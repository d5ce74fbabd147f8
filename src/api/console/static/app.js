/**
 * The console's entry: sign-in (OpenImmutable on application 1, the admin API and console),
 * who is signed in (GET /api/v1/sessions/current), the navigation the user's rights allow, and
 * a router over the URL's fragment (#/audit?userName=ivy). The API decides what each user may
 * see; the navigation only hides what would be refused.
 */

import { applicationsPage, usersPage } from './admin.js';
import { api, onSignedOut, token } from './api.js';
import { auditPage } from './audit.js';
import { h, say, sayPending } from './dom.js';
import { integrityPage } from './integrity.js';
import { go } from './list.js';
import { livePage } from './live.js';
import { sessionPage, sessionsPage } from './sessions.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');

const pages = [
  { route: '/sessions', label: 'Sessions', render: sessionsPage },
  { route: '/audit', label: 'Audit', render: auditPage },
  { route: '/live', label: 'Live tail', render: livePage },
  { route: '/integrity', label: 'Log integrity', render: integrityPage, rights: ['admin', 'auditor'] },
  { route: '/users', label: 'Users', render: usersPage, rights: ['admin'] },
  { route: '/applications', label: 'Applications', render: applicationsPage, rights: ['admin'] },
];

let me = null;
let current = new AbortController();

const allowed = (page) => !page.rights || page.rights.some((r) => me.rights.includes(r));

function signInPage(message) {
  // What the page was loading is moot (and must not report the 401 over this page's message).
  current.abort();
  me = null;
  nav.hidden = true;
  who.replaceChildren();
  const form = h(
    'form',
    {
      class: 'stack',
      'aria-labelledby': 'signin-title',
      onsubmit: async (event) => {
        event.preventDefault();
        const data = new FormData(form);
        try {
          const opened = await api('POST', '/api/v1/sessions/open-immutable', {
            body: {
              userName: data.get('userName'),
              password: data.get('password'),
              applicationId: 1,
              clientVersion: 'Sluice console',
            },
          });
          token.set(opened.token);
          say('');
          await start();
        } catch (error) {
          say(`Sign-in refused: ${error.message}`, true);
          form.querySelector('input[name=password]').select();
        }
      },
    },
    h(
      'label',
      { for: 'signin-user' },
      'User name or e-mail address',
      h('input', { id: 'signin-user', name: 'userName', autocomplete: 'username', required: true }),
    ),
    h(
      'label',
      { for: 'signin-password' },
      'Password',
      h('input', {
        id: 'signin-password',
        name: 'password',
        type: 'password',
        autocomplete: 'current-password',
        required: true,
      }),
    ),
    h('button', { type: 'submit' }, 'Sign in'),
  );
  main.replaceChildren(h('h1', { id: 'signin-title', tabindex: -1 }, 'Sign in'), form);
  if (message) say(message, true);
}

async function signOut() {
  current.abort();
  try {
    await api('POST', '/api/v1/sessions/close');
  } catch {
    // Already over: nothing to close.
  }
  token.clear();
  history.replaceState(null, '', '#/');
  say('Signed out');
  signInPage();
}

async function start() {
  if (!token.get()) return signInPage();
  try {
    me = await api('GET', '/api/v1/sessions/current');
  } catch (error) {
    if (error.status !== 401) say(`Sluice did not answer: ${error.message}`, true);
    return;
  }
  nav.replaceChildren(...pages.filter(allowed).map((p) => h('a', { href: `#${p.route}` }, p.label)));
  nav.hidden = false;
  who.replaceChildren(
    h('span', {}, `${me.userName} (${me.rights.join(', ') || 'no rights'})`),
    h('button', { type: 'button', onclick: signOut }, 'Sign out'),
  );
  if (!location.hash.startsWith('#/') || location.hash === '#/') go('/sessions');
  else await render();
}

async function render() {
  if (!me) return;
  current.abort();
  current = new AbortController();
  const [path, search = ''] = location.hash.slice(1).split('?');
  const params = new URLSearchParams(search);
  const sessionId = /^\/sessions\/([0-9a-fA-F-]{36})$/.exec(path)?.[1];
  const page = pages.find((p) => p.route === (sessionId ? '/sessions' : path));
  for (const link of nav.querySelectorAll('a')) {
    if (link.getAttribute('href') === `#${page?.route}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (!page || !allowed(page)) {
    main.replaceChildren(h('h1', { tabindex: -1 }, 'Not found'), h('p', {}, 'No such page for you here.'));
    return;
  }
  try {
    const rendering = sessionId
      ? sessionPage(main, params, current.signal, sessionId)
      : page.render(main, params, current.signal);
    main.querySelector('h1')?.focus();
    await rendering;
  } catch (error) {
    if (!current.signal.aborted) say(`Could not load the page: ${error.message}`, true);
  }
}

onSignedOut((reason) => signInPage(`${reason}: sign in again`));
window.addEventListener('hashchange', () => {
  sayPending();
  render();
});
start();
