import { z } from 'zod';

/**
 * Building blocks for each service's OpenAPI 3.1 document, so every document
 * describes errors the same way and derives bodies from the zod schemas that
 * validate them (the document cannot drift from what the server accepts).
 */
export const jsonSchemaOf = (s: z.ZodType): Record<string, unknown> => z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' });

export const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string', description: 'stable machine-readable code' }, message: { type: 'string' }, details: {} },
    },
  },
};

/** Responses for the given error statuses, all referring to `#/components/schemas/Error`. */
export const errorResponses = (...codes: number[]): Record<string, unknown> =>
  Object.fromEntries(codes.map((c) => [String(c), { description: 'error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }]));

export const UUID_PATH_PARAM = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
