// The console's only way to the server: fetch() against this origin's public API with the key the user
// pasted. The key lives in this module's memory alone (never in the URL, in storage or in a log line), so
// closing or reloading the tab forgets it. Every refusal becomes an ApiError carrying the problem+json.

let key = null;

export function setKey(value) {
  key = value;
}

export function forgetKey() {
  key = null;
}

export function hasKey() {
  return key !== null;
}

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.type = problem?.type ?? '';
    this.title = problem?.title ?? `HTTP ${status}`;
    this.detail = problem?.detail ?? '';
  }
}

/** GET or POST `path` (under this origin) with the key; resolves with the JSON answer. */
export async function api(path, { method = 'GET', body, signal } = {}) {
  if (key === null) throw new ApiError(401, { title: 'No key', detail: 'Paste a key first.' });
  const headers = { authorization: `Bearer ${key}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: 'no-store',
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
  });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = { title: `HTTP ${response.status}`, detail: 'The server answered something that is not JSON.' };
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

/** The problem type's last segment ("no-rounds" of ".../problems/no-rounds"). */
export function problemSlug(error) {
  return error instanceof ApiError ? error.type.split('/').pop() : '';
}
