/** Administration for admins: users (list, create, enable/disable) and applications. */
import { api } from './api.js';
import { h, say, sayNext, time } from './dom.js';
import { filterForm, pagedTable } from './list.js';

/**
 * Shows the page again once the views include the change at `position` (read-your-writes through
 * the API's minPosition), then says `message`.
 */
function refresh(position, message) {
  sayNext(message);
  const [route, search = ''] = location.hash.slice(1).split('?');
  const params = new URLSearchParams(search);
  if (position !== undefined) params.set('minPosition', String(position));
  const hash = `#${route}?${params}`;
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}

/** A form whose submit runs `send(data)` ({position, message}), then shows the page again. */
function actionForm(legend, fields, submit, send) {
  const form = h(
    'form',
    {
      class: 'stack',
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const done = await send(new FormData(form));
          refresh(done.position, done.message);
        } catch (error) {
          say(`${legend} failed: ${error.message}`, true);
        }
      },
    },
    h('fieldset', {}, h('legend', {}, legend), fields, h('button', { type: 'submit' }, submit)),
  );
  return form;
}

const input = (name, label, type = 'text', required = true) =>
  h(
    'label',
    { for: `a-${name}` },
    label,
    h('input', { id: `a-${name}`, name, type, required, autocomplete: 'off' }),
  );

/** A button that flips `enabled` with PATCH, then re-renders. */
function enableButton(path, enabled, what) {
  return h(
    'button',
    {
      type: 'button',
      onclick: async () => {
        try {
          const changed = await api('PATCH', path, { body: { enabled: !enabled } });
          refresh(changed.position, `${what} ${enabled ? 'disabled' : 'enabled'}`);
        } catch (error) {
          say(`Could not change ${what}: ${error.message}`, true);
        }
      },
    },
    `${enabled ? 'Disable' : 'Enable'} ${what}`,
  );
}

const userSpecs = [
  { name: 'userName', label: 'User name starts with', type: 'text' },
  { name: 'emailAddress', label: 'E-mail starts with', type: 'text' },
  { name: 'right', label: 'Right', type: 'select', options: ['admin', 'auditor', 'impersonate'] },
  { name: 'enabled', label: 'Enabled', type: 'select', options: ['true', 'false'] },
  { name: 'limit', label: 'Per page', type: 'number' },
];

export async function usersPage(main, params, signal) {
  const results = h('section', { 'aria-label': 'Users found' });
  const rights = h(
    'fieldset',
    {},
    h('legend', {}, 'Rights'),
    ['admin', 'auditor', 'impersonate'].map((r) =>
      h(
        'label',
        { for: `a-right-${r}` },
        h('input', { id: `a-right-${r}`, type: 'checkbox', name: 'rights', value: r }),
        r,
      ),
    ),
  );
  const create = actionForm(
    'New user',
    [
      input('userName', 'User name'),
      input('emailAddress', 'E-mail address', 'email'),
      input('password', 'Password', 'password'),
      rights,
    ],
    'Create user',
    async (data) => {
      const created = await api('POST', '/api/v1/users', {
        body: {
          userName: data.get('userName'),
          emailAddress: data.get('emailAddress'),
          password: data.get('password'),
          rights: data.getAll('rights'),
        },
      });
      return { position: created.position, message: `User ${created.userName} created (#${created.userId})` };
    },
  );
  main.replaceChildren(
    h('h1', { tabindex: -1 }, 'Users'),
    filterForm('/users', userSpecs, params),
    results,
    create,
  );
  await pagedTable(results, {
    route: '/users',
    specs: userSpecs,
    params,
    signal,
    caption: 'Users',
    columns: [
      ['Id', (u) => u.userId],
      ['User name', (u) => u.userName],
      ['E-mail', (u) => u.emailAddress],
      ['Name', (u) => `${u.firstName} ${u.lastName}`.trim()],
      ['Rights', (u) => u.rights.join(', ')],
      ['Created (UTC)', (u) => time(u.createdAt)],
      ['Enabled', (u) => (u.enabled ? 'yes' : 'no')],
      ['Change', (u) => enableButton(`/api/v1/users/${u.userId}`, u.enabled, u.userName)],
    ],
    load: (query) => api('GET', '/api/v1/users', { query, signal }),
  });
}

export async function applicationsPage(main, params, signal) {
  const results = h('section', { 'aria-label': 'Applications' });
  const register = actionForm(
    'Register an application',
    [
      input('applicationId', 'Application id (1000 and up)', 'number'),
      input('name', 'Name'),
      input('description', 'Description', 'text', false),
    ],
    'Register',
    async (data) => {
      const made = await api('POST', '/api/v1/applications', {
        body: {
          applicationId: Number(data.get('applicationId')),
          name: data.get('name'),
          ...(data.get('description') ? { description: data.get('description') } : {}),
        },
      });
      return { position: made.position, message: `Application ${made.applicationId} registered` };
    },
  );
  main.replaceChildren(h('h1', { tabindex: -1 }, 'Applications'), results, register);
  await pagedTable(results, {
    route: '/applications',
    specs: [],
    params,
    signal,
    caption: 'Applications',
    columns: [
      ['Id', (a) => a.applicationId],
      ['Name', (a) => a.name],
      ['Description', (a) => a.description],
      ['Built in', (a) => (a.builtIn ? 'yes' : 'no')],
      ['Enabled', (a) => (a.enabled ? 'yes' : 'no')],
      [
        'Change',
        (a) => (a.builtIn ? '' : enableButton(`/api/v1/applications/${a.applicationId}`, a.enabled, a.name)),
      ],
    ],
    load: (query) => api('GET', '/api/v1/applications', { query, signal }),
  });
}
