/**
 * What a decrypted ticket says, and when it is still acceptable: its age, its clock skew, and
 * its site. A ticket is minted for one application and one subject: an existing user by name
 * (OpenWithTicket), or a person by e-mail address and names (OpenWithTicketEx), so the call
 * can add nothing the integrator did not seal.
 */
export type TicketSubject =
  | { readonly kind: 'user'; readonly userName: string }
  | {
      readonly kind: 'email';
      readonly emailAddress: string;
      readonly firstName: string;
      readonly lastName: string;
    };

export interface TicketClaims {
  /** When the ticket was minted (UTC, whole seconds). */
  readonly timestamp: Date;
  /** May be empty. */
  readonly siteName: string;
  /** The only application the ticket signs in to. */
  readonly applicationId: number;
  readonly subject: TicketSubject;
}

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
