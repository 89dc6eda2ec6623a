/**
 * The operator console's files, read once when the app is built and served from memory: console/index.html
 * and the scripts and stylesheets beside it (plain ES modules, no build step, nothing fetched from anywhere
 * else). Only files directly in that folder with these extensions exist as far as the server is concerned,
 * so no request path can reach another file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** console/ at the repository root: three levels up from src/http (or dist/http) and this file. */
export const CONSOLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'console');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export interface ConsoleFile {
  type: string;
  body: Buffer;
}

export interface ConsoleFiles {
  index: ConsoleFile;
  /** Scripts and stylesheets by file name. */
  assets: ReadonlyMap<string, ConsoleFile>;
}

export function loadConsoleFiles(dir: string = CONSOLE_DIR): ConsoleFiles {
  const read = (name: string): ConsoleFile => ({ type: TYPES[path.extname(name)]!, body: readFileSync(path.join(dir, name)) });
  const assets = new Map<string, ConsoleFile>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && /^[a-z0-9-]+\.(js|css)$/.test(entry.name)) assets.set(entry.name, read(entry.name));
  }
  return { index: read('index.html'), assets };
}
