/**
 * The commands of a signed-in FTPS connection, each a thin translation onto the core's
 * FileSession: every path is made absolute against the working folder here and then resolved,
 * permitted, refused and recorded by the core alone (a `..` above the root is the core's
 * recorded refusal). Replies for the core's errors come from `replyForError`.
 *
 * Transfers use a passive data connection (PASV/EPSV; active mode is refused: it makes the
 * server connect out, the FTP bounce attack) that must be protected (PROT P): TLS in the
 * control connection's context, taken only from the control connection's address.
 */
import type { Logger } from 'pino';
import { type CoreSession, type FileHandle, READ_ONLY } from '../../application/files/file-session.js';
import { facts, ftpTime, isDirectory, type ListingFormat, listingLines } from './listing.js';
import {
  type DataConnection,
  PassiveListener,
  type PassiveOptions,
  pasvAddress,
  plainAddress,
} from './passive.js';
import { multiline, quotedPath, reply, replyForError } from './replies.js';
import { finish, receiveFile, sendFile } from './transfers.js';

export interface FileCommandsOptions {
  /** Where passive listeners listen, which ports, and how long they wait. */
  readonly passive: Omit<PassiveOptions, 'clientAddress' | 'secureContext'>;
  /** The IPv4 address PASV announces; null: the address the client reached (`localAddress`). */
  readonly passiveAddress: string | null;
  readonly logger: Logger;
  /** Told of each data connection: whether it resumed the control connection's TLS session. */
  readonly onDataConnection?: (resumed: boolean) => void;
}

/** What the control connection lends the commands. */
export interface ControlLink {
  send(text: string): void;
  /** PROT P was given (after PBSZ): data connections are protected. */
  readonly dataProtected: boolean;
  readonly clientAddress: string;
  readonly localAddress: string;
  readonly secureContext: import('node:tls').SecureContext;
}

/** Commands a client may send between REST and its transfer. */
const KEEP_REST = new Set(['PASV', 'EPSV', 'TYPE']);

export class FileCommands {
  private cwd = '/';
  private restAt = 0;
  private renameFrom: string | undefined;
  private passive: PassiveListener | undefined;
  private running: DataConnection | undefined;
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    private readonly session: CoreSession,
    private readonly link: ControlLink,
    private readonly options: FileCommandsOptions,
  ) {}

  /** The path as the core takes it: absolute, the working folder in front of a relative one. */
  private absolute(argument: string): string {
    if (argument === '') return this.cwd;
    if (argument.startsWith('/')) return argument;
    return this.cwd === '/' ? `/${argument}` : `${this.cwd}/${argument}`;
  }

  /** Handles one command; false when it is not one of these. */
  async handle(verb: string, argument: string): Promise<boolean> {
    const handler = this.handlers[verb];
    if (!handler) return false;
    // REST applies to the next transfer only (a PASV, EPSV or TYPE between them keeps it);
    // RNFR to the next command only.
    const rest = this.restAt;
    const from = this.renameFrom;
    if (!KEEP_REST.has(verb)) this.restAt = 0;
    this.renameFrom = undefined;
    try {
      await handler.call(this, argument, { rest, from });
    } catch (error) {
      if (!(error instanceof Error && error.name === 'FileError'))
        this.options.logger.error({ err: error, verb }, 'FTPS command failed');
      this.link.send(replyForError(error));
    }
    return true;
  }

  /** Ends what is running: the passive listener and a transfer's data connection. */
  close(): void {
    this.passive?.close();
    this.passive = undefined;
    this.running?.socket.destroy();
  }

  /** ABOR: a running transfer's data connection is cut (its command then answers 426). */
  abort(): boolean {
    if (!this.running) return false;
    this.running.socket.destroy();
    return true;
  }

  private readonly handlers: Record<
    string,
    (
      this: FileCommands,
      argument: string,
      pending: { rest: number; from: string | undefined },
    ) => Promise<void>
  > = {
    PWD: this.pwd,
    XPWD: this.pwd,
    CWD: this.cwdTo,
    XCWD: this.cwdTo,
    async CDUP() {
      await this.cwdTo('..');
    },
    async XCUP() {
      await this.cwdTo('..');
    },
    async TYPE(argument) {
      const type = argument.toUpperCase().replace(/\s+N$/, '');
      // ASCII is taken and sent as is (no line-end conversion): files are stored as sent.
      if (type === 'I' || type === 'L 8' || type === 'A') this.link.send(reply(200, `Type set to ${type}`));
      else this.link.send(reply(504, `Type ${argument} is not supported (I or A)`));
    },
    async MODE(argument) {
      this.link.send(
        argument.toUpperCase() === 'S'
          ? reply(200, 'Mode S')
          : reply(504, 'Only stream mode (S) is supported'),
      );
    },
    async STRU(argument) {
      this.link.send(
        argument.toUpperCase() === 'F' ? reply(200, 'Structure F') : reply(504, 'Only file structure (F)'),
      );
    },
    async PASV() {
      const announced = this.options.passiveAddress ?? plainAddress(this.link.localAddress);
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(announced)) {
        this.link.send(reply(425, 'PASV needs IPv4: use EPSV'));
        return;
      }
      const port = await this.openPassive();
      this.link.send(reply(227, `Entering Passive Mode (${pasvAddress(announced, port)})`));
    },
    async EPSV(argument) {
      if (argument.toUpperCase() === 'ALL') {
        this.link.send(reply(200, 'EPSV ALL: only EPSV from now on'));
        return;
      }
      const port = await this.openPassive();
      this.link.send(reply(229, `Entering Extended Passive Mode (|||${port}|)`));
    },
    PORT: this.active,
    EPRT: this.active,
    async REST(argument) {
      if (!/^\d{1,15}$/.test(argument)) {
        this.link.send(reply(501, 'REST takes a byte offset'));
        return;
      }
      this.restAt = Number(argument);
      this.link.send(reply(350, `Restarting at ${this.restAt}: send RETR, STOR or APPE`));
    },
    async RETR(argument, { rest }) {
      const path = this.absolute(argument);
      await this.withData(async () => {
        const handle = await this.session.open(path, READ_ONLY);
        await this.transfer(
          `Sending ${argument}`,
          async (data) => {
            this.bytesOut += await sendFile(handle, data.socket, rest);
          },
          FileCommands.endsOf(handle),
        );
      });
    },
    async STOR(argument, { rest }) {
      await this.store(argument, rest, false);
    },
    async APPE(argument) {
      await this.store(argument, 0, true);
    },
    LIST: function (argument) {
      return this.list('LIST', argument);
    },
    NLST: function (argument) {
      return this.list('NLST', argument);
    },
    MLSD: function (argument) {
      return this.list('MLSD', argument);
    },
    async MLST(argument) {
      const path = this.absolute(argument);
      const attrs = await this.session.stat(path);
      const name = await this.session.realpath(path);
      this.link.send(multiline(250, `Listing ${name}`, [facts(attrs, name)], 'End'));
    },
    async SIZE(argument) {
      const attrs = await this.session.stat(this.absolute(argument));
      if (isDirectory(attrs)) this.link.send(reply(550, `${argument}: not a plain file`));
      else this.link.send(reply(213, String(attrs.size ?? 0)));
    },
    async MDTM(argument) {
      const attrs = await this.session.stat(this.absolute(argument));
      this.link.send(reply(213, ftpTime(attrs.mtime ?? 0)));
    },
    async MFMT(argument) {
      const match = /^(\d{14})(?:\.\d+)? (.+)$/.exec(argument);
      const time = match
        ? Date.parse(match[1]!.replace(/^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$/, '$1-$2-$3T$4:$5:$6Z'))
        : Number.NaN;
      if (!match || Number.isNaN(time)) {
        this.link.send(reply(501, 'MFMT takes YYYYMMDDHHMMSS and a path'));
        return;
      }
      const mtime = Math.floor(time / 1000);
      await this.session.setstat(this.absolute(match[2]!), { mtime, atime: mtime });
      this.link.send(reply(213, `Modify=${match[1]}; ${match[2]}`));
    },
    async DELE(argument) {
      await this.session.remove(this.absolute(argument));
      this.link.send(reply(250, `${argument} deleted`));
    },
    async MKD(argument) {
      const path = this.absolute(argument);
      await this.session.mkdir(path);
      this.link.send(reply(257, `${quotedPath(await this.session.realpath(path))} created`));
    },
    async XMKD(argument) {
      await this.handlers.MKD!.call(this, argument, { rest: 0, from: undefined });
    },
    async RMD(argument) {
      await this.session.rmdir(this.absolute(argument));
      this.link.send(reply(250, `${argument} removed`));
    },
    async XRMD(argument) {
      await this.session.rmdir(this.absolute(argument));
      this.link.send(reply(250, `${argument} removed`));
    },
    async RNFR(argument) {
      const path = this.absolute(argument);
      await this.session.stat(path, { followLinks: false });
      this.renameFrom = path;
      this.link.send(reply(350, 'Ready for RNTO'));
    },
    async RNTO(argument, { from }) {
      if (from === undefined) {
        this.link.send(reply(503, 'RNFR first'));
        return;
      }
      // As rename(2) and other FTP servers: an existing target is replaced, when the core's
      // overwrite permission allows it.
      await this.session.rename(from, this.absolute(argument), { overwrite: true });
      this.link.send(reply(250, 'Renamed'));
    },
    async ALLO() {
      this.link.send(reply(202, 'No storage allocation needed'));
    },
  };

  private async pwd(): Promise<void> {
    this.link.send(reply(257, `${quotedPath(this.cwd)} is the working folder`));
  }

  private async cwdTo(argument: string): Promise<void> {
    const path = this.absolute(argument);
    const attrs = await this.session.stat(path);
    if (!isDirectory(attrs)) {
      this.link.send(reply(550, `${argument}: not a folder`));
      return;
    }
    this.cwd = await this.session.realpath(path);
    this.link.send(reply(250, `Working folder is ${this.cwd}`));
  }

  private async active(): Promise<void> {
    this.link.send(reply(502, 'Active mode is not offered: use PASV or EPSV'));
  }

  private async openPassive(): Promise<number> {
    this.passive?.close();
    this.passive = await PassiveListener.open({
      ...this.options.passive,
      clientAddress: this.link.clientAddress,
      secureContext: this.link.secureContext,
    });
    return this.passive.port;
  }

  /** Checks a transfer may use a data connection (PROT P, PASV first), then runs `start`. */
  private async withData(start: () => Promise<void>): Promise<void> {
    if (!this.link.dataProtected) {
      this.link.send(reply(521, 'Data connections must be protected: send PBSZ 0 and PROT P first'));
      return;
    }
    if (!this.passive) {
      this.link.send(reply(425, 'Use PASV or EPSV first'));
      return;
    }
    await start();
  }

  /**
   * One transfer on the passive data connection: 150, the data connection secured, `move`,
   * then `ends.done` (a handle closed: its event durable) and 226. A failure on the way calls
   * `ends.failed` (an upload leaves nothing but UploadAborted) and answers 425, 426 or the
   * core's code.
   */
  private async transfer(
    what: string,
    move: (data: DataConnection) => Promise<void>,
    ends: { done(): Promise<unknown>; failed(reason: string): Promise<void> },
    upload = false,
  ): Promise<void> {
    const passive = this.passive!;
    this.passive = undefined;
    this.link.send(reply(150, what));
    let data: DataConnection;
    try {
      data = await passive.secured({ watchEnd: upload });
    } catch {
      passive.close();
      await ends.failed('the data connection could not be opened');
      this.link.send(reply(425, 'The data connection could not be opened (TLS with PROT P is required)'));
      return;
    }
    this.options.onDataConnection?.(data.resumed);
    this.running = data;
    try {
      await move(data);
    } catch (error) {
      data.socket.destroy();
      await ends.failed(error instanceof Error ? error.message : 'the transfer failed');
      if (error instanceof Error && error.name === 'FileError') throw error;
      this.link.send(reply(426, 'The data connection closed: transfer aborted'));
      return;
    } finally {
      this.running = undefined;
    }
    await ends.done();
    this.link.send(reply(226, 'Transfer complete'));
  }

  /** What ends a transfer of `handle`: CLOSE when it went through, abort when not. */
  private static endsOf(handle: FileHandle) {
    return { done: () => handle.close(), failed: (reason: string) => handle.abort(reason) };
  }

  private async store(argument: string, rest: number, append: boolean): Promise<void> {
    const path = this.absolute(argument);
    await this.withData(async () => {
      const handle = await this.session.open(path, {
        read: false,
        write: true,
        append,
        create: true,
        truncate: !append && rest === 0,
        exclusive: false,
      });
      await this.transfer(
        `Receiving ${argument}`,
        async (data) => {
          // A FIN without close_notify: the client died, or the FIN was not the client's.
          const cutShort = () =>
            new Error('the data connection ended without TLS close_notify: the upload is incomplete');
          try {
            this.bytesIn += await receiveFile(handle, data.socket, rest);
          } catch (error) {
            throw data.endedWithAlert() ? error : cutShort();
          }
          if (!data.endedWithAlert()) throw cutShort();
        },
        FileCommands.endsOf(handle),
        true,
      );
    });
  }

  private async list(format: ListingFormat, argument: string): Promise<void> {
    // LIST's `ls` options (-a, -l …) are not paths.
    const named = format === 'LIST' || format === 'NLST' ? argument.replace(/^(-\S+\s*)+/, '') : argument;
    const path = this.absolute(named);
    await this.withData(async () => {
      const resolved = await this.session.realpath(path);
      let folder = await this.session.openDirectory(path).catch(async (error: unknown) => {
        // LIST of a file lists that file (from its folder's listing, under the same permission).
        if (format === 'MLSD' || !(error instanceof Error && error.name === 'FileError')) throw error;
        const attrs = await this.session.stat(path).catch(() => undefined);
        if (!attrs || isDirectory(attrs)) throw error;
        return undefined;
      });
      const only = folder ? undefined : resolved.slice(resolved.lastIndexOf('/') + 1);
      folder ??= await this.session.openDirectory(resolved.slice(0, resolved.lastIndexOf('/')) || '/');
      const listing = folder;
      await this.transfer(
        `Listing ${resolved}`,
        async (data) => {
          for (let batch = await listing.next(); batch; batch = await listing.next()) {
            const entries = only === undefined ? batch : batch.filter((e) => e.name === only);
            const text = Buffer.from(listingLines(format, entries));
            this.bytesOut += text.length;
            if (!data.socket.write(text)) await new Promise((resolve) => data.socket.once('drain', resolve));
          }
          await finish(data.socket);
        },
        { done: () => listing.close(), failed: () => listing.close() },
      );
    });
  }
}
