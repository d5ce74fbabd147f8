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
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i += 1)
          out += `${i === 0 ? '' : ','}${canonicalJson(value[i] ?? null)}`;
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      // Array.prototype.sort compares strings by UTF-16 code units, as RFC 8785 §3.2.3 asks.
      let out = '{';
      for (const key of Object.keys(record).sort()) {
        const member = record[key];
        if (member === undefined) continue;
        out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${canonicalJson(member)}`;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonical JSON has no ${typeof value}`);
  }
}
