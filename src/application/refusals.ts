/**
 * The limits that refuse work before it costs the server much (connections before sign-in,
 * streams, oversized or over-quota writes). Each refusal is counted by reason in
 * `sluice_refusals_total`; the front ends report them through a `RefusalCounter`.
 */
export const REFUSAL_REASONS = [
  'ssh-auth-timeout',
  'ssh-unauthenticated-total',
  'ssh-unauthenticated-per-address',
  'sftp-connections-per-user',
  'ftps-auth-timeout',
  'ftps-unauthenticated-total',
  'ftps-unauthenticated-per-address',
  'ftps-connections-per-user',
  'http-connections',
  'http-connections-per-address',
  'audit-streams-per-user',
  'audit-streams',
  'file-too-large',
  'write-gap',
  'quota',
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];

export type RefusalCounter = (reason: RefusalReason) => void;

export const uncounted: RefusalCounter = () => {};
