import { Type } from '@sinclair/typebox';
import { Page } from '../paging.js';

const VirtualPath = Type.String({ minLength: 1, maxLength: 4096, examples: ['/inbox/report.csv'] });

export const UploadedSchema = Type.Object({
  path: Type.String(),
  size: Type.Integer(),
  sha256: Type.String({ description: 'Also the ETag' }),
  overwrote: Type.Boolean(),
});

export const MoveBody = Type.Object(
  { from: VirtualPath, to: VirtualPath, overwrite: Type.Optional(Type.Boolean({ default: false })) },
  { additionalProperties: false },
);

export const MovedSchema = Type.Object({ from: Type.String(), to: Type.String() });

export const FolderPage = Page(
  Type.Object({
    name: Type.String(),
    type: Type.Union([Type.Literal('file'), Type.Literal('folder')]),
    size: Type.Integer(),
    modifiedAt: Type.String({ format: 'date-time' }),
  }),
);
