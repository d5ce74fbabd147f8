/** The real `curl` client: runs it and splits its output (headers dumped to stdout) into status, headers and body. */
import { execFile } from 'node:child_process';

export interface CurlResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  json<T = unknown>(): T;
}

export function curl(args: readonly string[]): Promise<CurlResponse> {
  return new Promise((resolve, reject) => {
    execFile(
      'curl',
      ['-sS', '-D', '-', '--max-time', '120', ...args],
      { maxBuffer: 64 * 1024 * 1024 },
      (error, stdout) => {
        if (error) return reject(error);
        // With -L there is one header block per hop; the last one belongs to the body.
        let rest = stdout;
        let head = '';
        while (/^HTTP\/[\d.]+ \d{3}/.test(rest)) {
          const end = rest.indexOf('\r\n\r\n');
          if (end < 0) break;
          head = rest.slice(0, end);
          rest = rest.slice(end + 4);
        }
        const [statusLine = '', ...headerLines] = head.split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of headerLines) {
          const i = line.indexOf(':');
          if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
        }
        resolve({
          status: Number(statusLine.split(' ')[1]),
          headers,
          body: rest,
          json<T>() {
            return JSON.parse(rest) as T;
          },
        });
      },
    );
  });
}

/** OpenImmutable with curl from source address `from` (loopback 127.0.0.x: a distinct client address). */
export function curlSignIn(
  base: string,
  from: string,
  userName: string,
  password: string,
  applicationId = 2,
) {
  return curl([
    '--interface',
    from,
    '-X',
    'POST',
    '-H',
    'content-type: application/json',
    '-d',
    JSON.stringify({ userName, password, applicationId }),
    `${base}/api/v1/sessions/open-immutable`,
  ]);
}

/** `curl -X PUT --data-binary @file` of a local file to an HTTP files route, with a bearer token. */
export function curlPutFile(base: string, token: string, localFile: string, virtualPath: string) {
  return curl([
    '-X',
    'PUT',
    '-H',
    `authorization: Bearer ${token}`,
    '-H',
    'content-type: application/octet-stream',
    '--data-binary',
    `@${localFile}`,
    `${base}/api/v1/files/${virtualPath}`,
  ]);
}
