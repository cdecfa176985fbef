// The gateway's GraphQL API as the page uses it, with the retry rule of the retryable-error contract:
// retryable when data.retryable is true, the code is one of RETRYABLE, or the HTTP status is 503/429
// (Retry-After honoured, else exponential back-off with jitter, a few attempts).

export const RETRYABLE = new Set(["UNAVAILABLE", "DATABASE_UNAVAILABLE", "STORAGE_UNAVAILABLE", "RESIZE_BUSY", "RESIZE_TIMEOUT"]);
const ATTEMPTS = 4;

export class ApiError extends Error {
  constructor(code, message, data = null, status = 200) {
    super(message);
    this.code = code;
    this.data = data;
    this.status = status;
  }
  get retryable() {
    return Boolean(this.data && this.data.retryable) || RETRYABLE.has(this.code) || this.status === 503 || this.status === 429;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function backoff(attempt, retryAfter) {
  const seconds = Number(retryAfter);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds, 30) * 1000;
  return Math.min(8000, 400 * 2 ** attempt) * (0.5 + Math.random() / 2);
}

export class Api {
  constructor(url, getToken, onUnauthorized) {
    this.url = url;
    this.getToken = getToken;
    this.onUnauthorized = onUnauthorized;
  }

  // One operation; its field's {data, error} envelope is unwrapped: error -> ApiError.
  async call(query, variables = {}, field = null) {
    let last = null;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        const body = await this.#post({ query, variables });
        const fm = body.data && body.data.fileManager;
        if (!fm) {
          const first = (body.errors || [])[0] || {};
          const ext = first.extensions || {};
          throw new ApiError(ext.code || "BAD_REQUEST", first.message || "The request failed.", ext.data || null);
        }
        if (!field) return fm;
        const result = fm[field];
        if (result && result.error) {
          const e = result.error;
          throw new ApiError(e.code, e.message, e.data);
        }
        return result;
      } catch (error) {
        last = error instanceof ApiError ? error : new ApiError("NETWORK", "The gateway cannot be reached (network lost?).", null, 0);
        if (!(last.retryable || last.code === "NETWORK") || attempt === ATTEMPTS - 1) throw last;
        await sleep(backoff(attempt, last.retryAfter));
      }
    }
    throw last;
  }

  async #post(payload) {
    const response = await fetch(this.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${this.getToken()}` },
      body: JSON.stringify(payload),
    });
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (response.status === 401) {
      this.onUnauthorized();
      const e = (body && body.error) || {};
      throw new ApiError("UNAUTHORIZED", e.message || "Sign in again: the token was refused.", null, 401);
    }
    if (!response.ok && !(body && body.data)) {
      const e = (body && body.error) || {};
      const error = new ApiError(e.code || `HTTP_${response.status}`, e.message || `The gateway answered ${response.status}.`, e.data || null, response.status);
      error.retryAfter = response.headers.get("retry-after");
      throw error;
    }
    return body;
  }
}

// --- the operations ------------------------------------------------------------------------------

const FILE = "id key name size type src tags createdOn";

export const Q = {
  settings: `query { fileManager { getSettings { data { uploadMinFileSize uploadMaxFileSize allowedTypes srcPrefix } error { code message data } } } }`,
  list: `query ($limit: Int, $after: String, $types: [String], $tags: [String], $search: String) {
    fileManager { listFiles(limit: $limit, after: $after, types: $types, tags: $tags, search: $search) {
      data { ${FILE} } meta { cursor totalCount hasMoreItems } error { code message data } } } }`,
  tags: `query { fileManager { listTagsWithCount { data { tag count } error { code message data } } } }`,
  presign: `query ($data: PreSignedPostPayloadInput!) { fileManager { getPreSignedPostPayload(data: $data) {
      data { data file { id key name size type } } error { code message data } } } }`,
  create: `mutation ($data: FileInput!) { fileManager { createFile(data: $data) { data { ${FILE} } error { code message data } } } }`,
  update: `mutation ($id: ID!, $data: FileInput!) { fileManager { updateFile(id: $id, data: $data) { data { ${FILE} } error { code message data } } } }`,
  remove: `mutation ($id: ID!) { fileManager { deleteFile(id: $id) { data error { code message data } } } }`,
  signCreate: `mutation ($data: PreSignedPostPayloadInput!) { fileManager { signCreateMultiPartUpload(data: $data) {
      data { request { method url headers } file { id key name size type } partSize numberOfParts } error { code message data } } } }`,
  signPart: `mutation ($k: String!, $u: String!, $n: Int!) { fileManager { signUploadPart(fileKey: $k, uploadId: $u, partNumber: $n) {
      data { method url headers size } error { code message data } } } }`,
  signList: `mutation ($k: String!, $u: String!) { fileManager { signListParts(fileKey: $k, uploadId: $u) {
      data { method url headers } error { code message data } } } }`,
  signComplete: `mutation ($k: String!, $u: String!) { fileManager { signCompleteMultiPartUpload(fileKey: $k, uploadId: $u) {
      data { method url headers } error { code message data } } } }`,
  abort: `mutation ($k: String!, $u: String!) { fileManager { abortMultiPartUpload(fileKey: $k, uploadId: $u) {
      data { method url headers } error { code message data } } } }`,
};

// --- readable words for what the services answer ----------------------------------------------------

export function formatBytes(n) {
  if (n == null) return "unknown";
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} byte${value === 1 ? "" : "s"}` : `${value.toFixed(1)} ${units[unit]}`;
}

// Two sizes that must read apart (a file just over a limit): exact bytes when rounding hides it.
export function formatPair(a, b) {
  const [x, y] = [formatBytes(a), formatBytes(b)];
  return x === y ? [`${a.toLocaleString("en")} bytes`, `${b.toLocaleString("en")} bytes`] : [x, y];
}

export function explain(error) {
  if (!(error instanceof ApiError)) return String(error && error.message ? error.message : error);
  const fields = (error.data && error.data.invalidFields) || {};
  const size = fields.size;
  if (size && size.code === "TOO_LARGE") return `Too big: ${size.message}`;
  if (size && size.code === "TOO_SMALL") return `Too small: ${size.message}`;
  if (fields.type && fields.type.code === "NOT_ALLOWED") return `Wrong type: ${fields.type.message}`;
  const base = {
    UNAUTHORIZED: "Sign in again: the token was refused.",
    FORBIDDEN: `Not allowed: ${error.message}`,
    NOT_FOUND: `Not found: ${error.message}`,
    LIMIT_EXCEEDED: `Limit reached: ${error.message}`,
    NETWORK: "The gateway cannot be reached (network lost?); try again.",
  }[error.code];
  const text = base || error.message;
  return error.retryable && !/try again/i.test(text) ? `${text} Try again in a moment.` : text;
}
