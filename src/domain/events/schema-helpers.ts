/** Building blocks shared by the event schemas. */
import { type StringOptions, type TObject, type TProperties, Type } from '@sinclair/typebox';
import { MULTILINE_PATTERN, SECRET_PATTERN, TEXT_PATTERN } from '../text.js';

/** An event schema: `{ type: <literal>, data: <object> }`, closed to extra fields. */
export function eventSchema<T extends string, P extends TProperties>(type: T, data: P) {
  return Type.Object(
    { type: Type.Literal(type), data: Type.Object(data, { additionalProperties: false }) },
    { additionalProperties: false },
  );
}

/**
 * Well-formed single-line text (src/domain/text.ts): no control character (C0 with NUL, DEL,
 * C1), no lone surrogate; bounded in UTF-16 units. Event and API schemas share it.
 */
export const Text = (maxLength: number, minLength = 0, options: StringOptions = {}) =>
  Type.String({ ...options, minLength, maxLength, pattern: TEXT_PATTERN });

/** Well-formed text that may also hold tabs and line breaks (an external person's description). */
export const FreeText = (maxLength: number, minLength = 0, options: StringOptions = {}) =>
  Type.String({ ...options, minLength, maxLength, pattern: MULTILINE_PATTERN });

/** A secret (a password): any well-formed text but NUL. It never enters an event. */
export const Secret = (maxLength: number, minLength = 0, options: StringOptions = {}) =>
  Type.String({ ...options, minLength, maxLength, pattern: SECRET_PATTERN });

export const UserId = Type.Integer({ minimum: 1, maximum: 2_147_483_647 });
export const ApplicationId = Type.Integer({ minimum: 1, maximum: 2_147_483_647 });
export const Uuid = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });
export const IpAddress = Type.String({ minLength: 2, maxLength: 64 });

export type EventSchema = TObject;
