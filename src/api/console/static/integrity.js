/**
 * The log's tamper evidence (docs/tamper-evidence.md): the key that signs tree heads, a full
 * verification of the log against the Merkle view and every signed head, and signing a head.
 */
import { api } from './api.js';
import { h, say, time } from './dom.js';

function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]),
  );
}

function report(result) {
  return h(
    'section',
    { 'aria-label': 'Verification result' },
    h(
      'p',
      { class: result.ok ? 'ok' : 'bad' },
      result.ok ? 'Verified: the log, the tree and every signed head agree' : 'Verification FAILED',
    ),
    facts([
      ['Checked up to position', result.checkedUpTo],
      ['Tree size', result.treeSize],
      ['Root hash', result.rootHash],
      ['Signed heads agreeing', `${result.heads.agreeing} of ${result.heads.checked}`],
      ['First bad position', result.firstBadPosition ?? '—'],
    ]),
    result.problems.length
      ? h(
          'ul',
          {},
          result.problems.map((p) =>
            h('li', {}, `${p.kind}${p.position === null ? '' : ` at ${p.position}`}: ${p.message}`),
          ),
        )
      : null,
    result.moreProblems ? h('p', {}, `… and ${result.moreProblems} more problems`) : null,
  );
}

export async function integrityPage(main, _params, signal) {
  const key = h('div');
  const output = h('div', { 'aria-live': 'polite' });
  const run = (label, work) =>
    h(
      'button',
      {
        type: 'button',
        onclick: async (event) => {
          const button = event.currentTarget;
          button.disabled = true;
          say(`${label}…`);
          try {
            output.replaceChildren(await work());
            say(`${label}: done`);
          } catch (error) {
            say(`${label} failed: ${error.message}`, true);
          } finally {
            button.disabled = false;
          }
        },
      },
      label,
    );
  main.replaceChildren(
    h('h1', { tabindex: -1 }, 'Log integrity'),
    key,
    h(
      'div',
      { class: 'actions' },
      run('Verify the log', async () => report(await api('GET', '/api/v1/audit/verify'))),
      run('Sign a tree head now', async () => {
        const head = await api('POST', '/api/v1/audit/tree-heads');
        return h(
          'section',
          { 'aria-label': 'Signed tree head' },
          h('h2', {}, 'Signed tree head'),
          facts([
            ['Tree size', head.treeSize],
            ['Last position', head.lastPosition],
            ['Root hash', head.rootHash],
            ['Signed (UTC)', time(head.timestamp)],
            ['Signature', head.signature],
          ]),
        );
      }),
    ),
    output,
  );
  const logKey = await api('GET', '/api/v1/audit/log-key', { signal });
  key.replaceChildren(facts([['Log key (Ed25519) id', logKey.keyId]]));
}
