// JSON client for /api/v1: same-origin cookie session, CSRF header on every
// state-changing request, and errors that say whether retrying can help.

const csrfMeta = document.querySelector('meta[name="csrf-token"]');
const CSRF_TOKEN = csrfMeta ? csrfMeta.content : '';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {{status?: number, body?: any, network?: boolean}} info
   */
  constructor(message, { status = 0, body = null, network = false } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
    this.network = network;
  }

  get isConflict() {
    return this.status === 409;
  }

  // Transient failures: the same request may succeed later. 401/403 are
  // included because a session that expired in the middle of work can be
  // renewed by logging in again in another tab; the change must not be lost.
  get isRetryable() {
    return (
      this.network ||
      this.status >= 500 ||
      this.status === 408 ||
      this.status === 429 ||
      this.status === 401 ||
      this.status === 403
    );
  }
}

function describe(status, body) {
  if (body && typeof body.detail === 'string') return body.detail;
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((d) => d.msg || JSON.stringify(d)).join('; ');
  }
  return `HTTP ${status}`;
}

/**
 * Send one request and return the parsed JSON body (null for 204).
 * Throws ApiError on a network failure or a non-2xx status.
 */
export async function apiFetch(method, url, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (!SAFE_METHODS.has(method)) headers['X-CSRF-Token'] = CSRF_TOKEN;

  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(`Network error: ${err.message}`, { network: true });
  }

  let parsed = null;
  if (response.status !== 204) {
    const text = await response.text();
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { detail: text.slice(0, 200) };
      }
    }
  }
  if (!response.ok) {
    throw new ApiError(describe(response.status, parsed), {
      status: response.status,
      body: parsed,
    });
  }
  return parsed;
}
