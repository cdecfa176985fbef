// A page using Uppy 6's AWS S3 plugin against the gateway: every S3 call signed by the gateway
// (signRequest), multipart with the gateway's part size rule (getChunkSize), the POST form for
// PutObject. Loaded by test_uppy_s3.py next to the Uppy bundle it builds from the npm packages.

import { AwsS3, Uppy } from "/uppy.mjs";

const MiB = 1024 * 1024;
const SIGNED = "method url headers";
const Q = {
  create: `mutation ($data: PreSignedPostPayloadInput!) { fileManager { signCreateMultiPartUpload(data: $data) {
    data { request { ${SIGNED} } file { key } } error { code message } } } }`,
  part: `mutation ($k: String!, $u: String!, $n: Int!) { fileManager { signUploadPart(fileKey: $k, uploadId: $u, partNumber: $n) {
    data { ${SIGNED} } error { code message } } } }`,
  list: `mutation ($k: String!, $u: String!) { fileManager { signListParts(fileKey: $k, uploadId: $u) {
    data { ${SIGNED} } error { code message } } } }`,
  complete: `mutation ($k: String!, $u: String!) { fileManager { signCompleteMultiPartUpload(fileKey: $k, uploadId: $u) {
    data { ${SIGNED} } error { code message } } } }`,
  abort: `mutation ($k: String!, $u: String!) { fileManager { abortMultiPartUpload(fileKey: $k, uploadId: $u) {
    data { ${SIGNED} } error { code message } } } }`,
  presign: `query ($data: PreSignedPostPayloadInput!) { fileManager { getPreSignedPostPayload(data: $data) {
    data { data file { key } } error { code message } } } }`,
  register: `mutation ($data: FileInput!) { fileManager { createFile(data: $data) {
    data { id key name size type } error { code message } } } }`,
};

function client(gateway, token) {
  return async (query, variables) => {
    const response = await fetch(`${gateway}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const [field] = Object.values((await response.json()).data.fileManager);
    if (field.error) throw new Error(`${field.error.code}: ${field.error.message}`);
    return field.data;
  };
}

function makeUppy(gql, trace) {
  const files = new Map(); // the key Uppy proposes -> its file (the gateway picks the real key)
  const uppy = new Uppy();
  uppy.use(AwsS3, {
    shouldUseMultipart: (file) => file.size > 5 * MiB,
    getChunkSize: ({ size }) => Math.max(5 * MiB, Math.ceil(size / 1000)), // uploads.signed_part_size
    generateObjectKey: (file) => {
      const key = `proposed-${trace.calls.length}-${file.id}`;
      files.set(key, file);
      return key;
    },
    signRequest: async (request) => {
      trace.calls.push({ method: request.method, uploadId: Boolean(request.uploadId), partNumber: request.partNumber ?? null });
      const file = files.get(request.key);
      const vars = { k: request.key, u: request.uploadId };
      const described = file && { name: file.name, type: file.type || "application/octet-stream", size: file.size };
      if (request.method === "POST" && !request.uploadId) {
        const created = await gql(Q.create, { data: described });
        trace.keys.push(created.file.key);
        return { ...created.request, key: created.file.key };
      }
      if (request.method === "PUT" && !request.uploadId) {
        const form = await gql(Q.presign, { data: described });
        trace.keys.push(form.file.key);
        return { url: form.data.url, fields: form.data.fields, key: form.file.key };
      }
      const query = { PUT: Q.part, GET: Q.list, POST: Q.complete, DELETE: Q.abort }[request.method];
      const signed = await gql(query, request.method === "PUT" ? { ...vars, n: request.partNumber } : vars);
      if (request.method === "DELETE") trace.aborted = true;
      return signed;
    },
  });
  uppy.on("upload-progress", (_file, progress) => trace.progress.push(progress.bytesUploaded));
  uppy.on("s3-multipart:part-uploaded", (_file, part) => trace.parts.push(part.PartNumber));
  return uppy;
}

function content(size) {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = i % 251;
  return bytes;
}

// Upload files of these sizes with Uppy, then register each with createFile.
window.uploadWithUppy = async (gateway, token, sizes) => {
  const gql = client(gateway, token);
  const trace = { calls: [], keys: [], progress: [], parts: [], aborted: false };
  const uppy = makeUppy(gql, trace);
  sizes.forEach((size, i) => uppy.addFile({ name: `uppy-${i}.bin`, type: "application/octet-stream", data: new Blob([content(size)]) }));
  const result = await uppy.upload();
  const records = [];
  for (const file of result.successful) records.push(await gql(Q.register, { data: { key: file.response.body.key, name: file.name } }));
  return { records, failed: result.failed.map((f) => String(f.error)), ...trace, version: AwsS3.VERSION };
};

// Start a multipart upload and cancel it once its first part is in.
window.cancelWithUppy = async (gateway, token, size) => {
  const gql = client(gateway, token);
  const trace = { calls: [], keys: [], progress: [], parts: [], aborted: false };
  const uppy = makeUppy(gql, trace);
  uppy.addFile({ name: "cancelled.bin", type: "application/octet-stream", data: new Blob([content(size)]) });
  uppy.on("s3-multipart:part-uploaded", () => uppy.cancelAll());
  uppy.upload();
  for (let i = 0; i < 600 && !trace.aborted; i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return trace;
};
