import { t } from 'elysia';

/** The error body every route may answer with; referenced in each route's response map for the docs. */
export const ErrorSchema = t.Object(
  { error: t.Object({ code: t.String({ examples: ['invalid_request'] }), message: t.String() }, { additionalProperties: true }) },
  { description: 'What went wrong, why, and how to fix it' },
);

export const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [s, ErrorSchema])) as Record<number, typeof ErrorSchema>;
