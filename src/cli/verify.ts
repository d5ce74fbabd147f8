/**
 * `npm run verify -- [--public-key=FILE]… [--heads=FILE] [--json] [--batch-size=N]`: recomputes
 * the Merkle tree from the event log and checks it against the Merkle view and every signed
 * tree head (src/application/log-verification.ts); says what disagrees, naming the first
 * position whose event is not what was recorded and signed. The database and event store are
 * found as the server finds them (cli/connection.ts); nothing is written.
 *
 * Trusted keys: the public half of the server's log key (`MFT_LOG_KEY_FILE`, default
 * `MFT_DATA_DIR/log-key/ed25519.pem`) when this machine can read it, and each `--public-key`
 * (PEM, as GET /api/v1/audit/log-key gives it). `--heads`: tree heads kept outside Sluice, a
 * JSON array or one head per line, as POST /api/v1/audit/tree-heads answered them.
 *
 * The findings go to stdout (`--json`: the report as JSON), progress to stderr. Exit status 0
 * when everything agrees, 1 when something does not, 2 on a usage or configuration error, 3
 * when the verification could not run.
 */

import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { keyIdOf, readPublicKey, signatureCheck } from '../adapters/log-key/log-key.js';
import { type VerificationReport, verifyLog } from '../application/log-verification.js';
import { loadConfig } from '../config.js';
import { readCheckpoint } from '../projections/checkpoints.js';
import { storedLeaves } from '../projections/merkle-proofs.js';
import { merkleProjection } from '../projections/merkle-tree.js';
import { batchSizeOption, cliMain, openCliStores, UsageError } from './connection.js';

type Env = Readonly<Record<string, string | undefined>>;

const USAGE = 'usage: npm run verify -- [--public-key=FILE]… [--heads=FILE] [--json] [--batch-size=N]';

async function trustedKeys(env: Env, files: readonly string[]): Promise<KeyObject[]> {
  const keys: KeyObject[] = [];
  const own = loadConfig(env).logKeyFile;
  if (existsSync(own)) keys.push(await readPublicKey(own));
  for (const file of files) {
    try {
      keys.push(await readPublicKey(file));
    } catch (error) {
      throw new UsageError(`--public-key: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return keys;
}

/** Heads kept outside Sluice: a JSON array, or one JSON object per line. */
async function savedHeads(file: string | undefined): Promise<unknown[]> {
  if (file === undefined) return [];
  const text = await readFile(file, 'utf8').catch((error: Error) => {
    throw new UsageError(`--heads: ${error.message}`);
  });
  try {
    const trimmed = text.trim();
    if (trimmed.startsWith('[')) return JSON.parse(trimmed) as unknown[];
    return trimmed
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as unknown);
  } catch (error) {
    throw new UsageError(
      `--heads: ${file} is not JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
}

/** The report as lines for people. */
export function describeReport(report: VerificationReport): string[] {
  const lines = [
    `${report.treeSize} events up to position ${report.checkedUpTo} recomputed (root ${report.rootHash}); ` +
      `compared with the Merkle view up to position ${report.comparedUpTo}; ` +
      `${report.heads.checked} signed heads checked, ${report.heads.agreeing} agree`,
  ];
  if (report.ok) {
    lines.push('OK: the log agrees with the Merkle view and every signed head');
    return lines;
  }
  lines.push(
    report.firstBadPosition === null
      ? 'DISAGREEMENT: no single position can be named (see below)'
      : `DISAGREEMENT: the first bad position is ${report.firstBadPosition}`,
  );
  for (const problem of report.problems) {
    const where = problem.position === null ? '' : ` at position ${problem.position}`;
    lines.push(`  ${problem.kind}${where}: ${problem.message}`);
  }
  if (report.moreProblems > 0) lines.push(`  … and ${report.moreProblems} more`);
  return lines;
}

export async function runVerify(argv: readonly string[], env: Env): Promise<VerificationReport> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    options: {
      'public-key': { type: 'string', multiple: true },
      heads: { type: 'string' },
      json: { type: 'boolean' },
      'batch-size': { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new UsageError(USAGE);
  const batchSize = batchSizeOption(values['batch-size']);
  const keys = await trustedKeys(env, values['public-key'] ?? []);
  const heads = await savedHeads(values.heads);

  const { db, store, description, close } = await openCliStores(env, { max: 4 });
  try {
    const ids = keys.map((k) => keyIdOf(k).slice(0, 16)).join(', ') || 'none';
    process.stderr.write(`verify: the log on ${description}; trusted keys: ${ids}\n`);
    let reported = 0;
    const report = await verifyLog(
      {
        store,
        viewLeaves: (from, limit) => storedLeaves(db, from, limit),
        viewPosition: () => readCheckpoint(db, merkleProjection.name),
        checkSignature: signatureCheck(keys),
      },
      {
        batchSize,
        savedHeads: heads,
        onProgress: (position, events) => {
          if (events - reported < 100_000) return;
          reported = events;
          process.stderr.write(`verify: ${events} events read, up to position ${position}\n`);
        },
      },
    );
    process.stdout.write(
      values.json
        ? `${JSON.stringify(report, null, 2)}\n`
        : describeReport(report)
            .map((line) => `verify: ${line}\n`)
            .join(''),
    );
    return report;
  } finally {
    await close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await cliMain('verify', async () => ((await runVerify(process.argv.slice(2), process.env)).ok ? 0 : 1), 3);
}
