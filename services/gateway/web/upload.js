// Uploads straight to S3: a pre-signed POST form for files up to the multipart threshold, above it a
// multipart upload whose every S3 call the gateway signs (create, each part, list parts, complete,
// abort on cancel). Then createFile registers the file, as Webiny's app does.

import { ApiError, Q, explain, formatBytes, formatPair } from "./api.js";

const CONCURRENCY = 3;

export class UploadCancelled extends Error {}

class S3Error extends Error {}

// The S3 XML error (<Error><Code>..</Code><Message>..</Message></Error>) in words a person reads.
function s3Refusal(xhr) {
  if (xhr.status === 0) return new S3Error("Network lost while sending the file to storage; try again.");
  let code = "";
  let message = "";
  try {
    const doc = new DOMParser().parseFromString(xhr.responseText || "", "application/xml");
    code = doc.querySelector("Code")?.textContent || "";
    message = doc.querySelector("Message")?.textContent || "";
  } catch {
    /* not XML */
  }
  const words = {
    EntityTooLarge: "Too big: storage refused more bytes than were declared.",
    EntityTooSmall: "Too small: storage refused the file.",
    AccessDenied: "Storage refused the upload (its signed permission expired or did not match); try again.",
    SignatureDoesNotMatch: "Storage refused the upload: the signed request did not match what was sent.",
    RequestTimeTooSkewed: "Storage refused the upload: this computer's clock is wrong.",
    SlowDown: "Storage is busy; try again in a moment.",
    ServiceUnavailable: "Storage is unavailable; try again in a moment.",
  }[code];
  return new S3Error(words || `Storage refused the upload (${xhr.status}${code ? ` ${code}` : ""}${message ? `: ${message}` : ""}).`);
}

function send(method, url, { headers = {}, body = null, onProgress = null, signal = null } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers || {})) xhr.setRequestHeader(name, value);
    if (onProgress) xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve(xhr) : reject(s3Refusal(xhr)));
    xhr.onerror = () => reject(s3Refusal(xhr));
    xhr.onabort = () => reject(new UploadCancelled("Cancelled."));
    if (signal) {
      if (signal.aborted) return reject(new UploadCancelled("Cancelled."));
      signal.addEventListener("abort", () => xhr.abort(), { once: true });
    }
    xhr.send(body);
  });
}

function xmlText(xhr, tag) {
  const doc = new DOMParser().parseFromString(xhr.responseText || "", "application/xml");
  return [...doc.getElementsByTagName(tag)].map((node) => node.textContent);
}

function xmlEscape(text) {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

export function allowsType(patterns, type) {
  return (patterns || ["*/*"]).some((pattern) => {
    const p = pattern.trim().toLowerCase();
    if (p === "*/*" || p === "*") return true;
    if (p.endsWith("/*")) return type.startsWith(p.slice(0, -1));
    return p === type;
  });
}

// What the limits say about a file before anything is asked of the gateway (null: fine).
export function precheck(file, settings) {
  const type = (file.type || "application/octet-stream").toLowerCase();
  if (settings.uploadMaxFileSize != null && file.size > settings.uploadMaxFileSize) {
    const [size, limit] = formatPair(file.size, settings.uploadMaxFileSize);
    return `Too big: ${file.name} is ${size}; at most ${limit} may be uploaded.`;
  }
  if (file.size < Math.max(1, settings.uploadMinFileSize || 1)) {
    const [size, limit] = formatPair(file.size, Math.max(1, settings.uploadMinFileSize || 1));
    return `Too small: ${file.name} is ${size}; at least ${limit} are needed.`;
  }
  if (!allowsType(settings.allowedTypes, type)) {
    return `Wrong type: ${type} may not be uploaded (allowed: ${settings.allowedTypes.join(", ")}).`;
  }
  return null;
}

export class Upload {
  constructor(file, api, threshold) {
    this.file = file;
    this.api = api;
    this.threshold = threshold;
    this.loaded = 0;
    this.state = "waiting"; // waiting, uploading, done, failed, cancelled
    this.message = "Waiting";
    this.controller = new AbortController();
    this.multipart = null; // {key, uploadId}
    this.record = null;
    this.listeners = new Set();
  }

  get type() {
    return (this.file.type || "application/octet-stream").toLowerCase();
  }

  notify() {
    for (const listener of this.listeners) listener(this);
  }

  progress(loaded) {
    this.loaded = Math.min(loaded, this.file.size);
    this.notify();
  }

  async run() {
    this.state = "uploading";
    this.message = "Uploading";
    this.notify();
    try {
      const info = this.file.size > this.threshold ? await this.#multipart() : await this.#post();
      this.message = "Registering";
      this.notify();
      this.record = await this.api.call(Q.create, { data: { key: info.key, name: this.file.name, tags: [] } }, "createFile");
      this.record = this.record.data;
      this.loaded = this.file.size;
      this.state = "done";
      this.message = "Uploaded";
    } catch (error) {
      if (error instanceof UploadCancelled || this.controller.signal.aborted) {
        this.state = "cancelled";
        this.message = "Cancelled";
        await this.#abortMultipart();
      } else {
        this.state = "failed";
        this.message = error instanceof ApiError ? explain(error) : error.message;
      }
    }
    this.notify();
  }

  cancel() {
    if (this.state === "waiting") {
      this.state = "cancelled";
      this.message = "Cancelled";
      this.notify();
    }
    this.controller.abort();
  }

  async #post() {
    const result = await this.api.call(Q.presign, { data: { name: this.file.name, type: this.type, size: this.file.size } }, "getPreSignedPostPayload");
    const { data: form, file: info } = result.data;
    const body = new FormData();
    for (const [name, value] of Object.entries(form.fields)) body.append(name, value);
    body.append("file", this.file);
    await send("POST", form.url, { body, onProgress: (n) => this.progress(n), signal: this.controller.signal });
    return info;
  }

  async #multipart() {
    const signal = this.controller.signal;
    const created = (await this.api.call(Q.signCreate, { data: { name: this.file.name, type: this.type, size: this.file.size } }, "signCreateMultiPartUpload")).data;
    const key = created.file.key;
    const init = await send(created.request.method, created.request.url, { headers: created.request.headers, signal });
    const uploadId = xmlText(init, "UploadId")[0];
    if (!uploadId) throw new S3Error("Storage did not start the upload.");
    this.multipart = { key, uploadId };
    const vars = { k: key, u: uploadId };
    for (let n = 1, offset = 0; n <= created.numberOfParts; n++) {
      const part = (await this.api.call(Q.signPart, { ...vars, n }, "signUploadPart")).data;
      const start = offset;
      await send(part.method, part.url, {
        headers: part.headers,
        body: this.file.slice(start, start + part.size),
        onProgress: (loaded) => this.progress(start + loaded),
        signal,
      });
      offset += part.size;
      this.progress(offset);
    }
    const listing = (await this.api.call(Q.signList, vars, "signListParts")).data;
    const listed = await send(listing.method, listing.url, { headers: listing.headers, signal });
    const numbers = xmlText(listed, "PartNumber");
    const etags = xmlText(listed, "ETag");
    const xml = `<CompleteMultipartUpload>${numbers
      .map((n, i) => `<Part><PartNumber>${xmlEscape(n)}</PartNumber><ETag>${xmlEscape(etags[i])}</ETag></Part>`)
      .join("")}</CompleteMultipartUpload>`;
    const complete = (await this.api.call(Q.signComplete, vars, "signCompleteMultiPartUpload")).data;
    await send(complete.method, complete.url, { headers: { ...complete.headers, "content-type": "application/xml" }, body: xml, signal });
    this.multipart = null;
    return created.file;
  }

  async #abortMultipart() {
    if (!this.multipart) return;
    const { key, uploadId } = this.multipart;
    this.multipart = null;
    try {
      await this.api.call(Q.abort, { k: key, u: uploadId }, "abortMultiPartUpload");
    } catch {
      /* the gateway's expiry aborts it later */
    }
  }
}

// Runs uploads a few at a time; ``onChange`` hears every change of any of them.
export class UploadQueue {
  constructor(onChange) {
    this.onChange = onChange;
    this.uploads = [];
    this.running = 0;
  }

  add(upload) {
    upload.listeners.add(() => this.onChange(upload));
    this.uploads.push(upload);
    this.onChange(upload);
    this.#pump();
  }

  #pump() {
    while (this.running < CONCURRENCY) {
      const next = this.uploads.find((u) => u.state === "waiting");
      if (!next) return;
      this.running++;
      next.run().finally(() => {
        this.running--;
        this.#pump();
      });
    }
  }

  cancelAll() {
    for (const upload of this.uploads) if (upload.state === "waiting" || upload.state === "uploading") upload.cancel();
  }

  totals() {
    const active = this.uploads.filter((u) => u.state !== "failed" && u.state !== "cancelled");
    const total = active.reduce((sum, u) => sum + u.file.size, 0);
    const loaded = active.reduce((sum, u) => sum + u.loaded, 0);
    const busy = this.uploads.some((u) => u.state === "waiting" || u.state === "uploading");
    return { total, loaded, busy };
  }
}
