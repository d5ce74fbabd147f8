/** Request and response schemas of the application registry: validation, TypeScript types and OpenAPI. */
import { type Static, Type } from '@sinclair/typebox';
import { Text } from '../../domain/events/schema-helpers.js';
import { PageQuery } from '../paging.js';

export const ApplicationSchema = Type.Object({
  applicationId: Type.Integer(),
  name: Type.String(),
  description: Type.String(),
  enabled: Type.Boolean(),
  builtIn: Type.Boolean(),
  position: Type.Optional(Type.Integer()),
});
export type ApplicationBody = Static<typeof ApplicationSchema>;

export const RegisterBody = Type.Object(
  {
    applicationId: Type.Integer({
      minimum: 1000,
      maximum: 2_147_483_647,
      examples: [1000],
      description: 'The integrator’s application id (1000 and up)',
    }),
    name: Text(100, 1, { examples: ['Partner portal'] }),
    description: Type.Optional(Text(1000)),
  },
  { additionalProperties: false },
);
export const Params = Type.Object({ applicationId: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });
export const PatchBody = Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false });
export const ListQuery = Type.Object({ ...PageQuery }, { additionalProperties: false });
