/**
 * One SFTP v3 session over a raw byte stream (the ssh2 channel of an `sftp` subsystem),
 * served by a `FileSession`.
 *
 * - VERSION 3 announces the OpenSSH extensions (posix-rename, statvfs, fstatvfs, hardlink,
 *   fsync, limits), so OpenSSH clients use ~255 KiB reads and writes.
 * - Back-pressure: at most `maxInFlight` requests are dispatched at once, and none while a
 *   `write()` waits for 'drain'; meanwhile at most `maxReadAhead` bytes are read on, then the
 *   channel is paused.
 * - Pipelined requests run concurrently where order cannot matter (see ordering.ts); every
 *   request id is answered exactly once.
 * - When the stream ends without CLOSE, open files are `abort()`ed and directories closed,
 *   then `closed` resolves.
 */
import type { Duplex } from 'node:stream';
import type { FileSession } from '../../../application/files/file-session.js';
import { DEFAULT_MAX_INBOUND_PACKET_LENGTH, PacketType, SERVER_EXTENSIONS, StatusCode } from './constants.js';
import { FramingError, PacketFramer } from './framing.js';
import { type HandleEntry, HandleTable } from './handles.js';
import { type OperationContext, type Plan, planRequest } from './operations.js';
import { RequestOrdering } from './ordering.js';
import { MalformedPacket } from './reader.js';
import { parseInit, parseRequest, type SftpRequest } from './requests.js';
import { type Reply, statusPacket, versionPacket } from './responses.js';
import { type SftpLogger, statusForError } from './status.js';
import { nextTapSession, tapReceived, tapSent } from './tap.js';

export interface SftpSessionOptions {
  /** Open file and directory handles per connection (default 256). */
  readonly maxOpenHandles?: number;
  /** Requests dispatched to the FileSession at once (default 64). */
  readonly maxInFlight?: number;
  /** Longest inbound packet accepted (default 256 KiB + 1 KiB); longer ends the session. */
  readonly maxPacketLength?: number;
  /**
   * Bytes of not-yet-dispatched requests read ahead while dispatching is blocked (default 1 MiB).
   * Reading on a little lets a client's EOF be seen while replies wait for 'drain' (a channel
   * that is never read to its end never emits 'end'); past it the channel is paused.
   */
  readonly maxReadAhead?: number;
  readonly logger?: SftpLogger;
}

export type SftpEndReason = 'client-ended' | 'channel-error' | 'protocol-error' | 'server-ended';

export interface SftpSessionSummary {
  readonly reason: SftpEndReason;
  readonly detail: string | undefined;
  /** File data received in successful WRITEs. */
  readonly bytesIn: number;
  /** File data sent in DATA replies. */
  readonly bytesOut: number;
  readonly requests: number;
  /** File handles still open at the end, aborted. */
  readonly abortedFiles: number;
}

const silentLogger: SftpLogger = { warn: () => {}, error: () => {} };

export class SftpProtocolSession {
  readonly closed: Promise<SftpSessionSummary>;

  private readonly framer: PacketFramer;
  private readonly handles: HandleTable;
  private readonly ordering = new RequestOrdering();
  private readonly logger: SftpLogger;
  private readonly maxInFlight: number;
  private readonly maxReadAhead: number;
  private readonly tapSession = nextTapSession();

  private initialised = false;
  private ending = false;
  private endReason: SftpEndReason = 'client-ended';
  private endDetail: string | undefined;
  private inFlight = 0;
  private paused = false;
  private outputBlocked = false;
  private pumping = false;
  private pumpAgain = false;
  private idleWaiters: Array<() => void> = [];
  private resolveClosed!: (summary: SftpSessionSummary) => void;

  private readonly counters = { bytesIn: 0, bytesOut: 0, requests: 0 };
  private readonly operations: OperationContext;
  private abortedFiles = 0;

  constructor(
    private readonly channel: Duplex,
    files: FileSession,
    options: SftpSessionOptions = {},
  ) {
    this.framer = new PacketFramer(options.maxPacketLength ?? DEFAULT_MAX_INBOUND_PACKET_LENGTH);
    this.handles = new HandleTable(options.maxOpenHandles ?? 256);
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 64);
    this.maxReadAhead = Math.max(0, options.maxReadAhead ?? 1024 * 1024);
    this.logger = options.logger ?? silentLogger;
    this.operations = {
      files,
      handles: this.handles,
      counters: this.counters,
      release: (entry) => this.release(entry),
    };
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    channel.on('data', this.onData);
    channel.on('end', this.onEnd);
    channel.on('close', this.onEnd);
    channel.on('error', this.onError);
  }

  /** File data received in successful WRITEs so far. */
  get bytesIn(): number {
    return this.counters.bytesIn;
  }

  /** File data sent in DATA replies so far. */
  get bytesOut(): number {
    return this.counters.bytesOut;
  }

  get requests(): number {
    return this.counters.requests;
  }

  get openHandles(): number {
    return this.handles.size;
  }

  /** Ends the session from the server side (shutdown, session revoked): open uploads are aborted. */
  end(detail = 'the server ended the session'): void {
    this.teardown('server-ended', detail, false);
  }

  // ---- input ---------------------------------------------------------------------------

  private readonly onData = (chunk: Buffer | string): void => {
    if (this.ending) return;
    this.framer.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    this.pump();
  };

  private readonly onEnd = (): void => {
    this.teardown('client-ended', 'the client closed the channel', false);
  };

  private readonly onError = (error: Error): void => {
    this.teardown('channel-error', error.message, false);
  };

  /** Dispatches complete packets while under the in-flight bound and output is not blocked. */
  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        while (!this.ending && this.inFlight < this.maxInFlight && !this.outputBlocked) {
          const packet = this.framer.next();
          if (!packet) break;
          this.onPacket(packet);
        }
      } while (this.pumpAgain && !this.ending);
    } catch (error) {
      if (error instanceof FramingError) this.protocolError(error.message);
      else {
        this.logger.error({ err: error }, 'SFTP: unexpected error while reading requests');
        this.protocolError('internal error');
      }
    } finally {
      this.pumping = false;
    }
    this.updateFlow();
  }

  /** Pauses the channel while dispatching is blocked and the read-ahead is used up. */
  private updateFlow(): void {
    if (this.ending) return;
    const blocked = this.inFlight >= this.maxInFlight || this.outputBlocked;
    const stop = blocked && this.framer.bufferedBytes >= this.maxReadAhead;
    if (stop && !this.paused) {
      this.paused = true;
      this.channel.pause();
    } else if (!stop && this.paused) {
      this.paused = false;
      this.channel.resume();
    }
  }

  private onPacket(packet: Buffer): void {
    tapReceived(this.tapSession, packet);
    const type = packet[0]!;
    if (!this.initialised) {
      if (type !== PacketType.INIT) {
        this.protocolError(`packet type ${type} before INIT`);
        return;
      }
      try {
        parseInit(packet);
      } catch (error) {
        if (!(error instanceof MalformedPacket)) throw error;
        this.protocolError(`malformed INIT: ${error.message}`);
        return;
      }
      this.initialised = true;
      this.send(versionPacket(SERVER_EXTENSIONS));
      return;
    }
    if (type === PacketType.INIT) {
      this.protocolError('INIT received twice');
      return;
    }
    const parsed = parseRequest(packet);
    this.counters.requests++;
    if (!parsed.ok) {
      if (parsed.id === undefined) this.protocolError(parsed.message);
      else this.send(statusPacket(parsed.id, StatusCode.BAD_MESSAGE, parsed.message));
      return;
    }
    const plan = planRequest(parsed.request, this.operations);
    if ('now' in plan) this.send(plan.now);
    else this.schedule(parsed.request, plan);
  }

  // ---- output --------------------------------------------------------------------------

  private send(reply: Reply): void {
    if (!this.channel.writable || this.channel.destroyed) return;
    tapSent(this.tapSession, reply);
    let flowing = true;
    if (Buffer.isBuffer(reply)) {
      flowing = this.channel.write(reply);
    } else {
      for (const part of reply) flowing = this.channel.write(part) && flowing;
    }
    if (!flowing && !this.outputBlocked) {
      this.outputBlocked = true;
      this.channel.once('drain', this.onDrain);
      this.updateFlow();
    }
  }

  private readonly onDrain = (): void => {
    this.outputBlocked = false;
    this.pump();
  };

  // ---- requests ------------------------------------------------------------------------

  /**
   * Runs `work` once its claims allow, answers with its reply or the mapped error, and keeps
   * the in-flight count. Work not yet started when the session ends is skipped (`onSkip`).
   */
  private schedule(request: SftpRequest, plan: Exclude<Plan, { now: Reply }>): void {
    const { work, onSkip } = plan;
    this.inFlight++;
    const admission = this.ordering.enter(plan.claims);
    const run = async (): Promise<void> => {
      if (admission.ready) await admission.ready;
      if (this.ending) {
        if (onSkip) await onSkip().catch((error: unknown) => this.logCleanupError(error));
        return;
      }
      let reply: Reply;
      try {
        reply = await work();
      } catch (error) {
        const mapped = statusForError(error, this.logger, { request: request.kind, id: request.id });
        reply = statusPacket(request.id, mapped.code, mapped.message);
      }
      this.send(reply);
    };
    run()
      .catch((error: unknown) => this.logger.error({ err: error }, 'SFTP request handling failed'))
      .finally(() => {
        admission.done();
        this.inFlight--;
        if (this.inFlight === 0 && this.idleWaiters.length > 0) {
          for (const wake of this.idleWaiters.splice(0)) wake();
        }
        if (!this.ending) this.pump();
      });
  }

  // ---- ending --------------------------------------------------------------------------

  private protocolError(detail: string): void {
    this.logger.warn({ detail }, 'SFTP protocol error: ending the session');
    this.teardown('protocol-error', detail, true);
  }

  private teardown(reason: SftpEndReason, detail: string, destroy: boolean): void {
    if (this.ending) return;
    this.ending = true;
    this.endReason = reason;
    this.endDetail = detail;
    this.channel.off('data', this.onData);
    if (destroy) this.channel.destroy();
    void this.finish();
  }

  private async finish(): Promise<void> {
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    const entries = this.handles.drain();
    await Promise.all(entries.map((entry) => this.release(entry).catch((e) => this.logCleanupError(e))));
    if (this.channel.writable && !this.channel.destroyed) this.channel.end();
    this.resolveClosed({
      reason: this.endReason,
      detail: this.endDetail,
      bytesIn: this.counters.bytesIn,
      bytesOut: this.counters.bytesOut,
      requests: this.counters.requests,
      abortedFiles: this.abortedFiles,
    });
  }

  /** A handle left open when the session ended: uploads are aborted, directories closed. */
  private async release(entry: HandleEntry): Promise<void> {
    if (entry.kind === 'file') {
      this.abortedFiles++;
      await entry.handle.abort(this.abortReason());
    } else await entry.handle.close();
  }

  private abortReason(): string {
    switch (this.endReason) {
      case 'client-ended':
        return 'the connection ended before CLOSE';
      case 'channel-error':
        return `the connection failed before CLOSE: ${this.endDetail ?? 'error'}`;
      case 'protocol-error':
        return `SFTP protocol error: ${this.endDetail ?? 'malformed packet'}`;
      case 'server-ended':
        return this.endDetail ?? 'the server ended the session';
    }
  }

  private logCleanupError(error: unknown): void {
    this.logger.error({ err: error }, 'SFTP: releasing a handle at session end failed');
  }
}
