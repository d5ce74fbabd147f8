/**
 * `npm test`: starts one embedded PostgreSQL for the whole run, then Node's test runner on
 * every `*.test.ts` under test/ (or the files given as arguments), then stops the server.
 */
import { spawn } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { startTestPostgres } from './support/database.js';

async function findTests(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

const files = process.argv.length > 2 ? process.argv.slice(2) : await findTests('test');
const server = await startTestPostgres();
let code = 1;
try {
  code = await new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
      { stdio: 'inherit', env: { ...process.env, SLUICE_TEST_PG_URL: server.url } },
    );
    child.on('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0)));
  });
} finally {
  await server.stop();
  await rm(server.dir, { recursive: true, force: true });
}
process.exit(code);
