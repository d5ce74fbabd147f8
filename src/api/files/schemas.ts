import { Type } from '@sinclair/typebox';
import { Text } from '../../domain/events/schema-helpers.js';
import { Page } from '../paging.js';

/** A path in a body: well-formed text (no control character, no lone surrogate). */
const VirtualPath = Text(4096, 1, { examples: ['/inbox/report.csv'] });

/** A path in the URL after /files/ or /folders/ (percent-decoded): well-formed text too. */
export const PathParams = Type.Object({
  '*': Text(8192, 0, { description: 'The path inside your folder' }),
});

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
