/** Building blocks shared by the event schemas. */
import { type TObject, type TProperties, Type } from '@sinclair/typebox';

/** An event schema: `{ type: <literal>, data: <object> }`, closed to extra fields. */
export function eventSchema<T extends string, P extends TProperties>(type: T, data: P) {
  return Type.Object(
    { type: Type.Literal(type), data: Type.Object(data, { additionalProperties: false }) },
    { additionalProperties: false },
  );
}

/** Printable text without control characters (NUL included), bounded. */
export const Text = (maxLength: number, minLength = 0) =>
  Type.String({ minLength, maxLength, pattern: '^[^\\u0000-\\u001f\\u007f]*$' });

/** Free text that may hold line breaks and tabs (an external person's description), never NUL. */
export const FreeText = (maxLength: number, minLength = 0) =>
  Type.String({ minLength, maxLength, pattern: '^[^\\u0000]*$' });

export const UserId = Type.Integer({ minimum: 1, maximum: 2_147_483_647 });
export const ApplicationId = Type.Integer({ minimum: 1, maximum: 2_147_483_647 });
export const Uuid = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });
export const IpAddress = Type.String({ minLength: 2, maxLength: 64 });

export type EventSchema = TObject;
