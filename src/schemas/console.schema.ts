/** The operator console's files (console/ at the repository root): named by a plain file name, nothing else. */
import { z } from 'zod';

export const consoleFileParamsSchema = z.strictObject({
  file: z
    .string()
    .max(64)
    .regex(/^([a-z0-9-]+\.(js|css))?$/, 'expected a console file name such as "app.js"')
    .describe('One of the console’s scripts or stylesheets, as its page links them; empty (`/console/`) redirects to the page'),
});

/** An answer that is a file's text: documented by its media types, sent unquoted. */
export const consoleTextSchema = z.string();
