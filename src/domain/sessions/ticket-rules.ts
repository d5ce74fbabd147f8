/** When a decrypted ticket is still acceptable: its age, its clock skew, and its site. */
export interface TicketPolicy {
  readonly maxAgeMs: number;
  readonly clockSkewMs: number;
  /** When set, the ticket's site name must equal it. */
  readonly siteName: string | null;
}

export const DEFAULT_TICKET_POLICY: TicketPolicy = {
  maxAgeMs: 5 * 60_000,
  clockSkewMs: 60_000,
  siteName: null,
};

export function ticketRejection(
  claims: { readonly timestamp: Date; readonly siteName: string },
  now: Date,
  policy: TicketPolicy,
): 'ticket-expired' | 'ticket-wrong-site' | null {
  const age = now.getTime() - claims.timestamp.getTime();
  // Too old, or minted further in the future than the clocks may disagree.
  if (age > policy.maxAgeMs + policy.clockSkewMs || age < -policy.clockSkewMs) return 'ticket-expired';
  if (policy.siteName !== null && claims.siteName !== policy.siteName) return 'ticket-wrong-site';
  return null;
}
