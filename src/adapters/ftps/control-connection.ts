/**
 * One FTPS control connection: TLS (from the first byte on the implicit port, after AUTH TLS
 * on the explicit one), then sign-in, then the file commands (file-commands.ts). Commands run
 * one at a time in arrival order; ABOR also cuts a running transfer at once.
 *
 * Refused here: USER and PASS before TLS (530: no password crosses the network in clear),
 * data transfers before PROT P (in file-commands.ts: 521), CCC (back to clear text), lines
 * longer than MAX_LINE_BYTES (500, the line dropped whole), and more than three failed
 * sign-ins on one connection (421, closed). The command rate is bounded: past a burst, commands
 * wait their turn (the socket is paused), so a flood costs the server no more than a steady client.
 */
import type net from 'node:net';
import tls from 'node:tls';
import type { Logger } from 'pino';
import { escapeText } from '../../domain/text.js';
import { LineReader, parseCommand } from './command-line.js';
import type { ControlLink, FileCommands } from './file-commands.js';
import { multiline, reply } from './replies.js';

export interface ControlDeps {
  readonly secureContext: tls.SecureContext;
  /**
   * Signs the client in (the defender, the records and the reuse rule are the sign-in
   * service's): the commands of the signed-in connection, 'refused' for wrong credentials,
   * 'closed' when the connection was refused after signing in (a limit; already ended).
   */
  signIn(
    userName: string,
    password: string,
    clientVersion: string,
  ): Promise<FileCommands | 'refused' | 'closed'>;
  readonly logger: Logger;
}

const MAX_SIGN_IN_FAILURES = 3;
/** Commands taken at once, then this many a second. */
const COMMAND_BURST = 200;
const COMMANDS_PER_SECOND = 100;
/** Queued commands past which the socket stops being read. */
const MAX_QUEUED = 32;
/** A signed-in control connection with no command and no transfer for this long is closed. */
const IDLE_MS = 10 * 60_000;

const FEATURES = [
  'AUTH TLS',
  'PBSZ',
  'PROT',
  'UTF8',
  'EPSV',
  'PASV',
  'SIZE',
  'MDTM',
  'MFMT',
  'REST STREAM',
  'MLST type*;size*;modify*;unix.mode*;',
  'TVFS',
];

/** Commands whose reply never changes. */
const FIXED_REPLIES: Record<string, string> = {
  FEAT: multiline(211, 'Features:', FEATURES, 'End'),
  SYST: reply(215, 'UNIX Type: L8'),
  NOOP: reply(200, 'OK'),
  HELP: reply(214, 'See FEAT; RFC 959, 2228, 3659 commands'),
  CCC: reply(534, 'The control connection stays encrypted'),
};

export class ControlConnection implements ControlLink {
  private socket: net.Socket | tls.TLSSocket;
  private secure = false;
  private pbsz = false;
  dataProtected = false;
  private userName: string | undefined;
  private clientVersion = 'unknown';
  private failures = 0;
  private files: FileCommands | undefined;
  private readonly queue: string[] = [];
  private working = false;
  /** The command loop's current run (resolved when idle). */
  private worked: Promise<void> = Promise.resolve();
  private tokens = COMMAND_BURST;
  private refilled = Date.now();
  private ended = false;
  private readonly reader: LineReader;
  readonly clientAddress: string;
  readonly localAddress: string;

  constructor(
    socket: net.Socket,
    implicit: boolean,
    private readonly deps: ControlDeps,
  ) {
    this.socket = socket;
    this.clientAddress = socket.remoteAddress ?? 'unknown';
    this.localAddress = socket.localAddress ?? '0.0.0.0';
    this.reader = new LineReader(
      (line) => this.enqueue(line),
      () => this.send(reply(500, 'Line too long')),
    );
    socket.on('error', (error) => deps.logger.debug({ err: error }, 'FTPS control connection error'));
    socket.setTimeout(IDLE_MS, () => {
      if (this.working) return;
      this.send(reply(421, 'Idle too long: closing'));
      this.end();
    });
    if (implicit) {
      this.upgrade().then(
        () => this.send(reply(220, 'Sluice FTPS ready')),
        () => this.end(),
      );
    } else {
      socket.on('data', this.onData);
      this.send(reply(220, 'Sluice FTPS ready: AUTH TLS, then sign in'));
    }
  }

  get secureContext(): tls.SecureContext {
    return this.deps.secureContext;
  }

  /** Resolves when the connection closed (the signed-in parts have been told). */
  get closed(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) resolve();
      else this.socket.once('close', () => resolve());
    });
  }

  /** Resolves once the command running now (a transfer, say) has finished and recorded its end. */
  settled(): Promise<void> {
    return this.worked;
  }

  send(text: string): void {
    if (!this.socket.destroyed) this.socket.write(text);
  }

  end(): void {
    this.ended = true;
    this.files?.close();
    this.socket.end();
    this.socket.destroySoon();
  }

  private readonly onData = (chunk: Buffer) => this.reader.push(chunk);

  /** TLS over the socket as it is now, in the shared context (data connections resume its session). */
  private upgrade(): Promise<void> {
    const plain = this.socket;
    plain.off('data', this.onData);
    const secure = new tls.TLSSocket(plain, {
      isServer: true,
      secureContext: this.deps.secureContext,
      requestCert: false,
    });
    this.socket = secure;
    secure.on('error', (error) => this.deps.logger.debug({ err: error }, 'FTPS TLS error'));
    return new Promise((resolve, reject) => {
      secure.once('secure', () => {
        this.secure = true;
        secure.on('data', this.onData);
        resolve();
      });
      secure.once('close', () => reject(new Error('closed before TLS was set up')));
    });
  }

  private enqueue(line: string): void {
    const { verb } = parseCommand(line);
    // ABOR is acted on at once; its reply still comes in order, after the transfer's.
    if (verb === 'ABOR') this.files?.abort();
    this.queue.push(line);
    if (this.queue.length > MAX_QUEUED) this.socket.pause();
    if (!this.working) this.worked = this.work();
  }

  private async work(): Promise<void> {
    this.working = true;
    try {
      for (let line = this.queue.shift(); line !== undefined && !this.ended; line = this.queue.shift()) {
        if (this.queue.length < MAX_QUEUED / 4) this.socket.resume();
        await this.paced();
        await this.execute(line);
      }
    } finally {
      this.working = false;
    }
  }

  /** Waits for a command token (a burst at once, then COMMANDS_PER_SECOND). */
  private async paced(): Promise<void> {
    const now = Date.now();
    this.tokens = Math.min(COMMAND_BURST, this.tokens + ((now - this.refilled) * COMMANDS_PER_SECOND) / 1000);
    this.refilled = now;
    if (this.tokens < 1) {
      await new Promise((resolve) => setTimeout(resolve, ((1 - this.tokens) * 1000) / COMMANDS_PER_SECOND));
      this.tokens = 1;
      this.refilled = Date.now();
    }
    this.tokens -= 1;
  }

  private async execute(line: string): Promise<void> {
    const { verb, argument } = parseCommand(line);
    try {
      const handled = await this.preSignIn(verb, argument);
      if (handled) return;
      if (!this.files) {
        this.send(reply(530, 'Sign in first'));
        return;
      }
      if (!(await this.files.handle(verb, argument)))
        this.send(reply(502, `${verb.slice(0, 16)} is not implemented`));
    } catch (error) {
      this.deps.logger.error({ err: error, verb }, 'FTPS command failed');
      this.send(reply(451, 'Local error'));
    }
  }

  /** The commands that work before sign-in (and after); false for any other. */
  private async preSignIn(verb: string, argument: string): Promise<boolean> {
    switch (verb) {
      case 'AUTH': {
        const mechanism = argument.toUpperCase();
        if (this.secure) this.send(reply(503, 'TLS is already on'));
        else if (mechanism !== 'TLS' && mechanism !== 'TLS-C' && mechanism !== 'SSL')
          this.send(reply(504, 'AUTH TLS only'));
        else {
          await new Promise<void>((resolve) =>
            this.socket.write(reply(234, 'Starting TLS'), () => resolve()),
          );
          await this.upgrade().catch(() => this.end());
        }
        return true;
      }
      case 'PBSZ':
        if (!this.secure) this.send(reply(503, 'AUTH TLS first'));
        else {
          this.pbsz = true;
          this.send(reply(200, 'PBSZ=0'));
        }
        return true;
      case 'PROT': {
        const level = argument.toUpperCase();
        if (!this.secure || !this.pbsz) this.send(reply(503, 'AUTH TLS and PBSZ 0 first'));
        else if (level === 'P') {
          this.dataProtected = true;
          this.send(reply(200, 'Data connections are protected'));
        } else if (level === 'C') this.send(reply(534, 'Data connections must be protected: PROT P only'));
        else this.send(reply(504, 'PROT P only'));
        return true;
      }
      case 'USER':
        if (this.maySignIn()) {
          this.userName = escapeText(argument, 254);
          this.send(reply(331, 'Password required'));
        }
        return true;
      case 'PASS':
        await this.pass(argument);
        return true;
      case 'CLNT':
        this.clientVersion = escapeText(argument, 100);
        this.send(reply(200, 'Noted'));
        return true;
      case 'OPTS':
        if (/^UTF-?8( ON)?$/i.test(argument)) this.send(reply(200, 'UTF-8 is always on'));
        else if (/^MLST /i.test(argument)) this.send(reply(200, 'MLST facts: type;size;modify;unix.mode;'));
        else this.send(reply(501, 'Option not understood'));
        return true;
      case 'ABOR':
        this.send(reply(226, 'ABOR done'));
        return true;
      case 'QUIT':
        this.send(reply(221, 'Goodbye'));
        this.end();
        return true;
      default: {
        const fixed = FIXED_REPLIES[verb];
        if (fixed !== undefined) this.send(fixed);
        return fixed !== undefined;
      }
    }
  }

  /** USER and PASS: only over TLS, once; else the refusal is sent. */
  private maySignIn(): boolean {
    if (!this.secure) this.send(reply(530, 'Plain-text sign-in is refused: send AUTH TLS first'));
    else if (this.files) this.send(reply(503, 'Already signed in'));
    else return true;
    return false;
  }

  private async pass(password: string): Promise<void> {
    if (!this.maySignIn()) return;
    if (this.userName === undefined) {
      this.send(reply(503, 'USER first'));
      return;
    }
    const result = await this.deps.signIn(this.userName, password, this.clientVersion);
    if (result === 'closed') {
      this.end();
      return;
    }
    if (result === 'refused') {
      this.failures++;
      this.userName = undefined;
      this.send(reply(530, 'Sign-in failed'));
      if (this.failures >= MAX_SIGN_IN_FAILURES) {
        this.send(reply(421, 'Too many failed sign-ins: closing'));
        this.end();
      }
      return;
    }
    this.files = result;
    this.send(reply(230, 'Signed in'));
  }
}
