/**
 * The domain error family. Services throw these; the HTTP layer turns them into RFC 9457 problem+json with
 * the error's own `type`, `title` and `status`. Messages name the operation, the expectation and a
 * non-secret value, never a key, weight or feature.
 */

export const PROBLEM_BASE = 'https://fedscore.dev/problems/';

export interface ProblemField {
  path: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    /** Stable slug; the problem `type` is PROBLEM_BASE + slug. */
    readonly slug: string,
    readonly title: string,
    readonly status: number,
    detail: string,
    readonly errors?: ProblemField[],
    /** For 429 and 503: when to try again, sent as the Retry-After header. */
    readonly retryAfterSeconds?: number,
  ) {
    super(detail);
    this.name = new.target.name;
  }

  get type(): string {
    return PROBLEM_BASE + this.slug;
  }
}

export class ValidationError extends DomainError {
  constructor(detail: string, errors: ProblemField[] = []) {
    super('validation-failed', 'Request validation failed', 422, detail, errors);
  }
}

export class BadRequestError extends DomainError {
  constructor(slug: string, title: string, detail: string) {
    super(slug, title, 400, detail);
  }
}

export class UnauthorizedError extends DomainError {
  constructor(detail = 'a valid API key is required: Authorization: Bearer <key>') {
    super('unauthorized', 'Missing or invalid credentials', 401, detail);
  }
}

export class ForbiddenError extends DomainError {
  constructor(detail: string) {
    super('forbidden', 'Not allowed for these credentials', 403, detail);
  }
}

export class NotFoundError extends DomainError {
  constructor(resource: string, id: string | number) {
    super(`${resource}-not-found`, `${capitalise(resource)} not found`, 404, `${resource} ${id} does not exist`);
  }
}

export class ConflictError extends DomainError {
  constructor(slug: string, title: string, detail: string) {
    super(slug, title, 409, detail);
  }
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1).replace(/-/g, ' ');
}
