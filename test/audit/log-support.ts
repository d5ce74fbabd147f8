/**
 * Shared by the tamper-evidence tests: events read straight from the events table in the shape
 * docs/tamper-evidence.md's psql query prints them (the canonical object of each event, built by
 * PostgreSQL, never by Sluice's code), and the independent Python checker
 * (docs/examples/verify_log.py) run as a subprocess.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';

/** The documented query: one event per row, as JSON text, in position order. */
export const EVENTS_AS_JSON = `
  SELECT json_build_object('position', global_position, 'stream', stream_id, 'revision', stream_revision,
    'eventId', event_id, 'type', type, 'data', data, 'metadata', metadata,
    'recordedAt', to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text AS line
  FROM events`;

export async function eventLine(pool: pg.Pool, position: number): Promise<string> {
  const { rows } = await pool.query<{ line: string }>(`${EVENTS_AS_JSON} WHERE global_position = $1`, [
    position,
  ]);
  if (!rows[0]) throw new Error(`no event at ${position}`);
  return rows[0].line;
}

export async function allEventLines(pool: pg.Pool): Promise<string> {
  const { rows } = await pool.query<{ line: string }>(`${EVENTS_AS_JSON} ORDER BY global_position`);
  return rows.map((r) => `${r.line}\n`).join('');
}

export interface PythonResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `python3 docs/examples/verify_log.py <args>` with `stdin`; resolves whatever its exit status. */
export function verifyLogPy(args: readonly string[], stdin = ''): Promise<PythonResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      '/usr/bin/python3',
      ['docs/examples/verify_log.py', ...args],
      { maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        if (code === -1) reject(error);
        else resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(stdin);
  });
}

/** Writes `value` (an object, or JSON text as is) to `dir/name`; resolves with the path. */
export async function jsonFile(dir: string, name: string, value: unknown): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}
