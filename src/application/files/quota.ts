/**
 * Bytes reserved by the uploads in progress in this process, per user. An upload reserves each
 * byte it adds past its own end before writing it, against the room its user had when it was
 * opened (quota − stored + the size of the file it replaces); reservations end with the upload.
 * Reserving is synchronous, so uploads running side by side cannot together pass the quota. The
 * stored usage comes from the files view; across instances, uploads in progress elsewhere are
 * not seen until they are recorded.
 */
export class QuotaLedger {
  private readonly reserved = new Map<number, number>();

  /** Reserves `bytes` for `userId` if the user's reservations stay within `room`. */
  tryReserve(userId: number, bytes: number, room: number): boolean {
    const now = this.reserved.get(userId) ?? 0;
    if (now + bytes > room) return false;
    this.reserved.set(userId, now + bytes);
    return true;
  }

  release(userId: number, bytes: number): void {
    const left = (this.reserved.get(userId) ?? 0) - bytes;
    if (left > 0) this.reserved.set(userId, left);
    else this.reserved.delete(userId);
  }

  reservedBy(userId: number): number {
    return this.reserved.get(userId) ?? 0;
  }
}
