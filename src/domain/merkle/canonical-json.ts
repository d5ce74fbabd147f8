/**
 * Canonical JSON: the JSON Canonicalization Scheme (RFC 8785, JCS). One value has exactly one
 * serialization, so anyone can recompute the bytes Sluice hashes: no whitespace, object members
 * sorted by their names compared as UTF-16 code units, strings and numbers written as
 * ECMAScript's JSON.stringify writes them (RFC 8785 §3.2.2), UTF-8.
 *
 * Only JSON values are accepted (what JSON.parse returns): a non-finite number, a bigint, a
 * function or a symbol throws. Members whose value is `undefined` are left out, as
 * JSON.stringify leaves them out.
 */

export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON has no ${value}`);
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
      const record = value as Record<string, unknown>;
      // Array.prototype.sort compares strings by UTF-16 code units, as RFC 8785 §3.2.3 asks.
      const members: string[] = [];
      for (const key of Object.keys(record).sort()) {
        const member = record[key];
        if (member !== undefined) members.push(`${JSON.stringify(key)}:${canonicalJson(member)}`);
      }
      return `{${members.join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON has no ${typeof value}`);
  }
}
