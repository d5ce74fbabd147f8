/** Building blocks shared by the event schemas. */
import {
  Kind,
  type StringOptions,
  type TInteger,
  type TNull,
  type TObject,
  type TProperties,
  type TString,
  type TUnion,
  Type,
  TypeRegistry,
} from '@sinclair/typebox';
import { codePointLength, MULTILINE_PATTERN, SECRET_PATTERN, TEXT_PATTERN } from '../text.js';

/** An event schema: `{ type: <literal>, data: <object> }`, closed to extra fields. */
export function eventSchema<T extends string, P extends TProperties>(type: T, data: P) {
  return Type.Object(
    { type: Type.Literal(type), data: Type.Object(data, { additionalProperties: false }) },
    { additionalProperties: false },
  );
}

/**
 * A string schema checked the same way by ajv (HTTP routes) and TypeBox (events): plain JSON
 * Schema keywords (`type`, `minLength`, `maxLength`, `pattern`) that ajv reads and OpenAPI
 * shows, under a TypeBox kind of its own whose check counts lengths in code points as ajv
 * does (TypeBox's own `maxLength` counts UTF-16 units: an astral character would count 2,
 * and a string a route accepted could then fail its event after the effect).
 */
function textSchema(kind: string, pattern: string) {
  const regex = new RegExp(pattern);
  if (!TypeRegistry.Has(kind)) {
    TypeRegistry.Set<{ minLength?: number; maxLength?: number }>(kind, (schema, value) => {
      if (typeof value !== 'string' || !regex.test(value)) return false;
      const length = codePointLength(value);
      return length >= (schema.minLength ?? 0) && length <= (schema.maxLength ?? Number.POSITIVE_INFINITY);
    });
  }
  // Typed as TString: its JSON Schema is a string schema, which is what the fastify type
  // provider (TypeBox 1.x) and Static infer from; only the runtime kind differs.
  return (maxLength: number, minLength = 0, options: StringOptions = {}): TString =>
    Type.Unsafe<string>({
      ...options,
      [Kind]: kind,
      type: 'string',
      minLength,
      maxLength,
      pattern,
    }) as unknown as TString;
}

/**
 * Well-formed single-line text (src/domain/text.ts): no control character (C0 with NUL, DEL,
 * C1), no lone surrogate; bounded in code points. Event and API schemas share it.
 */
export const Text = textSchema('WellFormedText', TEXT_PATTERN);

/** Well-formed text that may also hold tabs and line breaks (an external person's description). */
export const FreeText = textSchema('WellFormedMultilineText', MULTILINE_PATTERN);

/** A secret (a password): any well-formed text but NUL. It never enters an event. */
export const Secret = textSchema('WellFormedSecret', SECRET_PATTERN);

TypeRegistry.Set<{ minimum: number; maximum: number }>(
  'NullableCount',
  (schema, value) =>
    value === null ||
    (Number.isSafeInteger(value) &&
      (value as number) >= schema.minimum &&
      (value as number) <= schema.maximum),
);

/**
 * A whole number from `minimum` up, or null, as one JSON Schema `type: ['integer', 'null']`
 * (TypeBox checks it under a kind of its own). Not an anyOf: the API's ajv coerces types, and
 * within an anyOf it would turn a null into 0 for an integer branch, or a 0 into null.
 */
export function NullableCount(minimum: number, options: { description?: string } = {}): TNullableCount {
  // Typed as the union its JSON Schema means, which is what the fastify type provider infers from.
  return Type.Unsafe<number | null>({
    ...options,
    [Kind]: 'NullableCount',
    type: ['integer', 'null'],
    minimum,
    maximum: Number.MAX_SAFE_INTEGER,
  }) as unknown as TNullableCount;
}

type TNullableCount = TUnion<[TNull, TInteger]>;

export const UserId = Type.Integer({ minimum: 1, maximum: 2_147_483_647 });
export const ApplicationId = Type.Integer({ minimum: 1, maximum: 2_147_483_647 });
export const Uuid = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });
export const IpAddress = Type.String({ minLength: 2, maxLength: 64 });

export type EventSchema = TObject;
