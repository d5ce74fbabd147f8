/**
 * Real FTPS clients: lftp (GnuTLS) with `ftp:ssl-force`, curl (OpenSSL) with `--ssl-reqd` or
 * `ftps://`, and Python's ftplib.FTP_TLS (Debian's python3). Certificates are not verified:
 * the server's is self-signed. Every run is bounded by the shared client timeout.
 */
import { type ClientResult, collect } from './sftp-clients.js';

/** lftp over explicit FTPS (AUTH TLS, PROT P): `commands` after `open`; the first failure ends it non-zero. */
export function lftpFtps(
  port: number,
  user: string,
  password: string,
  commands: string[],
): Promise<ClientResult> {
  const script = [
    'set cmd:fail-exit yes',
    'set net:max-retries 1',
    'set net:timeout 20',
    'set ftp:ssl-force true',
    'set ftp:ssl-protect-data true',
    'set ssl:verify-certificate no',
    `open -u ${user},${password} ftp://127.0.0.1:${port}`,
    ...commands,
  ].join('\n');
  return collect('lftp', ['-c', script]);
}

/** curl with `args` (`-k`: the certificate is self-signed); FTP URLs are the caller's. */
export function curlFtp(args: string[]): Promise<ClientResult> {
  return collect('curl', ['-sS', '-k', '--max-time', '60', ...args]);
}

/**
 * The start of each ftplib script: `f` is an FTP_TLS client signed in over AUTH TLS with
 * PROT P, whose data connections resume the control connection's TLS session (as FileZilla's
 * do; stock ftplib does a full handshake each time). argv: host, port, user, password, rest.
 */
const PRELUDE = `
import ftplib, io, ssl, sys
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
args = sys.argv[5:]
class Resuming(ftplib.FTP_TLS):
    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def signed_in(protect=True):
    f = Resuming(context=ctx, timeout=30)
    f.connect(host, port)
    f.auth()
    f.login(user, password)
    if protect:
        f.prot_p()
    return f
`;

export function ftplib(
  port: number,
  user: string,
  password: string,
  body: string,
  args: string[] = [],
): Promise<ClientResult> {
  return collect('/usr/bin/python3', [
    '-c',
    PRELUDE + body,
    '127.0.0.1',
    String(port),
    user,
    password,
    ...args,
  ]);
}
