/**
 * Stand-in virus scanners for hook tests, each a real program: a POSIX shell script following
 * clamdscan's exit codes, and a Python http.server answering the HTTP hook's JSON. Both flag a
 * file holding the EICAR test string (the industry's harmless test "virus"); the HTTP one reads
 * the file from a shared storage root, as a real scanner beside Sluice would.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HookError } from '../../src/adapters/hooks/hook.js';

export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

/** Writes an executable /bin/sh script `name` into `dir` and returns its path. */
export async function shellScript(dir: string, name: string, body: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `#!/bin/sh\n${body}\n`);
  await chmod(file, 0o755);
  return file;
}

/** clamdscan's convention: 0 and "<path>: OK", 1 and "<path>: <signature> FOUND", 2 on an error. */
export function commandScanner(dir: string): Promise<string> {
  return shellScript(
    dir,
    'scan.sh',
    [
      'for file; do :; done # the path is the last argument',
      '[ -r "$file" ] || { echo "$file: cannot read" >&2; exit 2; }',
      'if grep -qF EICAR-STANDARD-ANTIVIRUS-TEST-FILE "$file"; then',
      '  echo "$file: Eicar-Test-Signature FOUND"; exit 1',
      'fi',
      'echo "$file: OK"',
    ].join('\n'),
  );
}

const HTTP_SCANNER = `
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

root = sys.argv[1]

class Scanner(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers.get('Content-Length', 0))))
        if self.path == '/slow':
            time.sleep(60)
        if self.path == '/status-500':
            return self.reply(500, b'scanner broken')
        if self.path == '/not-json':
            return self.reply(200, b'all good')
        if self.path == '/no-verdict':
            return self.reply(200, b'{"verdict": "maybe"}')
        if self.path == '/redirect':
            return self.reply(302, b'', [('Location', '/scan')])
        with open(root + request['virtualPath'], 'rb') as f:
            found = b'EICAR-STANDARD-ANTIVIRUS-TEST-FILE' in f.read()
        if found:
            answer = {'verdict': 'rejected', 'reason': 'Eicar-Test-Signature FOUND'}
        else:
            seen = {'request': request, 'token': self.headers.get('X-Token'), 'type': self.headers.get('Content-Type')}
            answer = {'verdict': 'clean', 'reason': json.dumps(seen)}
        self.reply(200, json.dumps(answer).encode())

server = ThreadingHTTPServer(('127.0.0.1', 0), Scanner)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
`;

export interface HttpScanner {
  /** e.g. http://127.0.0.1:PORT; paths: /scan, /slow, /status-500, /not-json, /no-verdict, /redirect. */
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts the HTTP scanner over files under `root` (virtual paths are appended to it). */
export async function startHttpScanner(dir: string, root: string): Promise<HttpScanner> {
  const script = path.join(dir, 'scanner.py');
  await writeFile(script, HTTP_SCANNER);
  // Debian's python3, not a pyenv shim from PATH.
  const child: ChildProcess = spawn('/usr/bin/python3', ['-u', script, root], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  const [first] = (await Promise.race([once(child.stdout!, 'data'), exited])) as [Buffer | number | null];
  const port = Buffer.isBuffer(first) ? Number(first.toString().trim()) : Number.NaN;
  if (!Number.isInteger(port)) throw new Error('the HTTP scanner did not start');
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** Asserts that a hook gave no answer: a retryable HookError whose message matches. */
export async function assertNoAnswer(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof HookError, String(error));
    assert.equal(error.retryable, true);
    assert.match(error.message, message);
    return true;
  });
}
