import type { z } from 'zod';

/**
 * One line per problem, `path: message`, joined with `; `: readable in `last_error`. Takes
 * zod's core error, which classic and `zod/mini` schemas (the agent's config) both throw.
 */
export function formatZodError(error: z.core.$ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}
