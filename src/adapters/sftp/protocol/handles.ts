/**
 * The per-connection handle table. Handles are opaque 4-byte strings from a counter, so a
 * closed handle's bytes are not handed out again within the connection. OPENs reserve a slot
 * when they start, so pipelined OPENs cannot overshoot the limit.
 */
import type { DirectoryEntry, DirectoryHandle, FileHandle } from '../../../application/files/file-session.js';

export type HandleEntry =
  | { readonly kind: 'file'; readonly handle: FileHandle; readonly path: string }
  | {
      readonly kind: 'directory';
      readonly handle: DirectoryHandle;
      readonly path: string;
      /** Entries fetched from the core that did not fit the last NAME reply. */
      pending: DirectoryEntry[];
      done: boolean;
    };

const HANDLE_LENGTH = 4;

export class HandleTable {
  private readonly entries = new Map<number, HandleEntry>();
  private reserved = 0;
  private counter = 0;

  constructor(readonly limit: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** Takes a slot for an OPEN in progress; false when the table is full. */
  reserve(): boolean {
    if (this.entries.size + this.reserved >= this.limit) return false;
    this.reserved++;
    return true;
  }

  release(): void {
    this.reserved--;
  }

  /** Turns a reservation into a handle. */
  add(entry: HandleEntry): Buffer {
    this.reserved--;
    let key = this.counter;
    do {
      key = (key + 1) >>> 0;
    } while (this.entries.has(key));
    this.counter = key;
    this.entries.set(key, entry);
    const handle = Buffer.allocUnsafe(HANDLE_LENGTH);
    handle.writeUInt32BE(key, 0);
    return handle;
  }

  /** The key for a handle string, or undefined if it cannot be one of ours. */
  key(handle: Buffer): number | undefined {
    return handle.length === HANDLE_LENGTH ? handle.readUInt32BE(0) : undefined;
  }

  get(handle: Buffer): HandleEntry | undefined {
    const key = this.key(handle);
    return key === undefined ? undefined : this.entries.get(key);
  }

  /** Removes and returns the entry (CLOSE). */
  take(handle: Buffer): HandleEntry | undefined {
    const key = this.key(handle);
    if (key === undefined) return undefined;
    const entry = this.entries.get(key);
    this.entries.delete(key);
    return entry;
  }

  /** Removes and returns every entry (the connection ended). */
  drain(): HandleEntry[] {
    const all = [...this.entries.values()];
    this.entries.clear();
    return all;
  }
}
