/**
 * A syslog collector for tests: a real rsyslogd (Debian's rsyslog, rsyslog-gnutls) with its own
 * configuration, pid file and work directory under a temporary folder. It loads only imtcp
 * (a plain listener, and with `certificate` a TLS one through the gtls driver, anonymous
 * client authentication) and mmpstrucdata; no imuxsock or imklog, so it never touches
 * /dev/log, the kernel log or /var/spool, and writes only in its folder. Each message it
 * receives is one JSON line in `received.jsonl` of what rsyslog parsed: the RFC 5424 fields,
 * the structured data as received and as mmpstrucdata unescaped it, the MSG and the raw
 * message. (Not its stdout: Node gives a child a socket there, which omfile cannot open.)
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { PEER_WAIT_MS, spawnPeer } from './peer-process.js';
import type { TestCertificate } from './test-certificate.js';

export interface ReceivedSyslog {
  readonly appName: string;
  readonly hostname: string;
  readonly procId: string;
  readonly msgId: string;
  readonly facility: string;
  readonly severity: string;
  readonly timestamp: string;
  /** STRUCTURED-DATA as it came, escapes included. */
  readonly structuredData: string;
  /** The structured data as mmpstrucdata parsed it: SD-ID → parameter → unescaped value. */
  readonly sd: Record<string, Record<string, string>>;
  /** MSG as rsyslog keeps it (a leading BOM included). */
  readonly msg: string;
  readonly raw: string;
  readonly protocolVersion: string;
}

export interface SyslogPeer {
  readonly port: number;
  /** Sends rsyslogd a signal (SIGSTOP makes it stop reading, SIGCONT resumes it). */
  signal(signal: NodeJS.Signals): void;
  /** The TLS listener's port, when started with a certificate. */
  readonly tlsPort?: number;
  /** What rsyslogd has written so far. */
  received(): Promise<ReceivedSyslog[]>;
  waitFor(count: number): Promise<ReceivedSyslog[]>;
  stop(): Promise<void>;
}

const FIELDS: Array<[string, string]> = [
  ['appName', 'app-name'],
  ['hostname', 'hostname'],
  ['procId', 'procid'],
  ['msgId', 'msgid'],
  ['facility', 'syslogfacility'],
  ['severity', 'syslogseverity'],
  ['structuredData', 'structured-data'],
  ['sd', '$!rfc5424-sd'],
  ['msg', 'msg'],
  ['raw', 'rawmsg'],
  ['protocolVersion', 'protocol-version'],
];

function configuration(
  dir: string,
  port: number,
  tls?: { port: number; certificate: TestCertificate },
): string {
  const properties = FIELDS.map(
    ([out, name]) => `  property(outname="${out}" name="${name}" format="jsonf")`,
  );
  properties.push('  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")');
  const lines = [
    `global(workDirectory="${dir}/work" maxMessageSize="64k" net.enableDNS="off")`,
    'module(load="imtcp")',
    'module(load="mmpstrucdata")',
    'template(name="fields" type="list" option.jsonf="on") {',
    ...properties,
    '}',
    'ruleset(name="received") {',
    '  action(type="mmpstrucdata" sd_name.lowercase="off")',
    `  action(type="omfile" file="${dir}/received.jsonl" template="fields")`,
    '}',
    `input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="received")`,
  ];
  if (tls) {
    const c = tls.certificate;
    lines.push(
      `input(type="imtcp" address="127.0.0.1" port="${tls.port}" ruleset="received"`,
      '  streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon"',
      `  streamDriver.caFile="${c.certFile}" streamDriver.certFile="${c.certFile}" streamDriver.keyFile="${c.keyFile}")`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Polls `check` until it gives a value: rsyslogd has no "ready" signal and writes its file
 * when it flushes. Bounded by the shared peer wait, and by rsyslogd's exit.
 */
async function poll<T>(what: string, exited: () => boolean, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + PEER_WAIT_MS;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (exited() || Date.now() > deadline) throw new Error(`rsyslogd: ${what}`);
    await sleep(25);
  }
}

function accepts(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const probe = net.connect({ host: '127.0.0.1', port }, () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(undefined));
  });
}

export async function startSyslogPeer(
  options: { certificate?: TestCertificate; port?: number; tlsPort?: number } = {},
): Promise<SyslogPeer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sluice-rsyslog-'));
  await mkdir(path.join(dir, 'work'));
  const port = options.port ?? (await freePort());
  const tlsPort = options.certificate ? (options.tlsPort ?? (await freePort())) : undefined;
  const conf = path.join(dir, 'rsyslog.conf');
  await writeFile(
    conf,
    configuration(dir, port, options.certificate && { port: tlsPort!, certificate: options.certificate }),
  );
  const peer = spawnPeer('/usr/sbin/rsyslogd', ['-n', '-f', conf, '-i', path.join(dir, 'rsyslogd.pid')]);
  let exited = false;
  peer.child.once('exit', () => {
    exited = true;
  });
  const isExited = () => exited;
  try {
    await poll(`not listening on ${port}`, isExited, () => accepts(port));
    if (tlsPort) await poll(`not listening on ${tlsPort}`, isExited, () => accepts(tlsPort));
  } catch (error) {
    await peer.stop();
    throw new Error(`${(error as Error).message}: ${peer.stderr()}`);
  }
  const output = path.join(dir, 'received.jsonl');
  let seen: ReceivedSyslog[] = [];
  const read = async (): Promise<ReceivedSyslog[]> => {
    const lines = (await readFile(output, 'utf8').catch(() => '')).split('\n');
    // Only complete lines: the last one may be half written.
    seen = lines.slice(0, -1).map((line) => {
      const fields = JSON.parse(line) as Omit<ReceivedSyslog, 'sd'> & { sd: string };
      return { ...fields, sd: fields.sd ? JSON.parse(fields.sd) : {} } as ReceivedSyslog;
    });
    return seen;
  };
  return {
    port,
    tlsPort,
    received: read,
    signal: (signal) => {
      peer.child.kill(signal);
    },
    waitFor: (count) =>
      poll(`${seen.length} of ${count} messages; ${peer.stderr()}`, isExited, async () => {
        const all = await read();
        return all.length >= count ? all : undefined;
      }),
    async stop() {
      await peer.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
