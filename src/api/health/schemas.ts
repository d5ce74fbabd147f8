import { type Static, Type } from '@sinclair/typebox';

export const HealthSchema = Type.Object({ status: Type.Literal('ok'), version: Type.String() });

export const ProjectionReadinessSchema = Type.Object({
  name: Type.String(),
  position: Type.Integer({ description: 'Global position of the last event the projection committed' }),
  lag: Type.Integer({ description: 'Events between the projection and the head of the log' }),
  error: Type.Optional(Type.String({ description: 'Why its last batch failed (it is retrying)' })),
});

export const ReadinessSchema = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not-ready')]),
  database: Type.Union([Type.Literal('ok'), Type.Literal('unreachable')]),
  headPosition: Type.Integer({ description: 'Newest global position readers can see' }),
  maxLag: Type.Integer(),
  projections: Type.Array(ProjectionReadinessSchema),
});
export type Readiness = Static<typeof ReadinessSchema>;
