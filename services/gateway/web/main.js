// The File Manager page: sign-in, uploads, the gallery and the details panel. Plain ES modules.

import { Api, ApiError, Q, explain, formatBytes } from "./api.js";
import { Upload, UploadQueue, precheck } from "./upload.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "fileservice.token";
const PAGE_SIZE = 40;
const THUMB_SIZES = "(max-width: 600px) 45vw, 180px";

const state = {
  config: null,
  settings: null,
  api: null,
  cursor: null,
  total: 0,
  loading: false,
  generation: 0,
  files: new Map(), // id -> record
  selected: new Set(),
  current: null, // the record in the details panel
};

// --- messages --------------------------------------------------------------------------------------

function say(text) {
  $("status").textContent = text;
}

function alertText(text) {
  const box = $("alert");
  box.textContent = text;
  box.hidden = !text;
}

function fail(error) {
  alertText(error instanceof ApiError ? explain(error) : String(error.message || error));
}

// --- sign-in ---------------------------------------------------------------------------------------

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

// The token's ``sub``, to show who is signed in (read, not verified: the gateway verifies it).
function tokenSubject(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "="))).sub || "";
  } catch {
    return "";
  }
}

function signedOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  $("app").hidden = true;
  $("who").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  if (message) alertText(message);
  $("token").focus();
}

async function signIn() {
  if (!token() && state.config.devMode) {
    const response = await fetch("/app/dev-token", { cache: "no-store" });
    if (response.ok) sessionStorage.setItem(TOKEN_KEY, (await response.json()).token);
  }
  if (!token()) return signedOut("");
  try {
    const settings = await state.api.call(Q.settings, {}, "getSettings");
    state.settings = settings.data;
  } catch (error) {
    if (error.code === "UNAUTHORIZED") return signedOut("The token was refused; sign in again.");
    fail(error);
    return;
  }
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  $("who").hidden = false;
  const subject = tokenSubject(token());
  $("who").textContent = state.config.devMode && subject === "dev" ? "Signed in as the dev user (dev mode)" : `Signed in as ${subject || "?"}`;
  showLimits();
  await Promise.all([loadTags(), reload()]);
}

// --- limits and uploads ----------------------------------------------------------------------------

function showLimits() {
  const s = state.settings;
  const types = (s.allowedTypes || ["*/*"]).join(", ");
  $("limits").textContent =
    `Files of ${formatBytes(Math.max(1, s.uploadMinFileSize || 1))} to ${formatBytes(s.uploadMaxFileSize)}; ` +
    `types: ${types === "*/*" ? "any" : types}. Files above ${formatBytes(state.config.multipartThreshold)} go up in parts.`;
}

const rows = new Map(); // upload -> its <li>
const queue = new UploadQueue(render);

function render(upload) {
  let li = rows.get(upload);
  if (!li) {
    li = document.createElement("li");
    li.className = "upload";
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = upload.file.name;
    const bar = document.createElement("progress");
    bar.max = upload.file.size || 1;
    bar.setAttribute("aria-label", `Progress of ${upload.file.name}`);
    const text = document.createElement("span");
    text.className = "state";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    cancel.setAttribute("aria-label", `Cancel ${upload.file.name}`);
    cancel.addEventListener("click", () => upload.cancel());
    li.append(name, bar, text, cancel);
    $("uploads").prepend(li);
    rows.set(upload, li);
  }
  const [, bar, text, cancel] = li.children;
  bar.value = upload.loaded;
  const percent = upload.file.size ? Math.round((100 * upload.loaded) / upload.file.size) : 0;
  text.textContent = upload.state === "uploading" ? `${percent}% of ${formatBytes(upload.file.size)}` : upload.message;
  li.dataset.state = upload.state;
  cancel.hidden = !(upload.state === "waiting" || upload.state === "uploading");
  if (upload.state === "done" && upload.record && !upload.shown) {
    upload.shown = true;
    addUploaded(upload.record);
  }
  renderOverall();
}

function renderOverall() {
  const { total, loaded, busy } = queue.totals();
  $("overall-row").hidden = queue.uploads.length === 0;
  $("overall").max = total || 1;
  $("overall").value = loaded;
  $("overall-text").textContent = `${formatBytes(loaded)} of ${formatBytes(total)}`;
  $("cancel-all").disabled = !busy;
}

function addFiles(list) {
  alertText("");
  for (const file of list) {
    const problem = precheck(file, state.settings);
    const upload = new Upload(file, state.api, state.config.multipartThreshold);
    if (problem) {
      upload.state = "failed";
      upload.message = problem;
    }
    queue.add(upload);
  }
}

// --- the gallery -----------------------------------------------------------------------------------

function isImage(record) {
  return (record.type || "").startsWith("image/") && record.type !== "image/svg+xml";
}

function widthUrl(record, width) {
  return width ? `${record.src}?width=${width}` : record.src;
}

function thumbnail(record) {
  if (!isImage(record)) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = (record.type || "file").split("/")[1] || "file";
    return badge;
  }
  const img = document.createElement("img");
  const widths = state.config.widths.filter((w) => w <= 500);
  img.srcset = widths.map((w) => `${widthUrl(record, w)} ${w}w`).join(", ");
  img.sizes = THUMB_SIZES;
  img.src = widthUrl(record, widths.find((w) => w >= 180) || widths[widths.length - 1]);
  img.loading = "lazy";
  img.decoding = "async";
  img.alt = "";
  return img;
}

function card(record) {
  const li = document.createElement("li");
  li.className = "card";
  li.dataset.id = record.id;
  const check = document.createElement("input");
  check.type = "checkbox";
  check.setAttribute("aria-label", `Select ${record.name}`);
  check.checked = state.selected.has(record.id);
  check.addEventListener("change", () => {
    if (check.checked) state.selected.add(record.id);
    else state.selected.delete(record.id);
    updateSelection();
  });
  const open = document.createElement("button");
  open.type = "button";
  open.className = "open";
  open.setAttribute("aria-label", `Details of ${record.name}`);
  const caption = document.createElement("span");
  caption.className = "caption";
  caption.textContent = record.name;
  open.append(thumbnail(record), caption);
  open.addEventListener("click", () => showDetails(record.id));
  li.append(check, open);
  return li;
}

function filters() {
  const type = $("type-filter").value;
  const tag = $("tag-filter").value;
  const search = $("search").value.trim();
  return { types: type ? [type] : null, tags: tag ? [tag] : null, search: search || null };
}

async function reload() {
  state.generation++;
  state.cursor = null;
  state.files.clear();
  $("gallery").replaceChildren();
  await loadMore(true);
}

async function loadMore(first = false) {
  // a reload (new filters) always runs; scrolling waits for the page being loaded
  if (!first && (state.loading || !state.cursor)) return;
  state.loading = true;
  const generation = state.generation;
  try {
    const page = await state.api.call(Q.list, { limit: PAGE_SIZE, after: first ? null : state.cursor, ...filters() }, "listFiles");
    if (generation !== state.generation) return;
    for (const record of page.data) {
      if (state.files.has(record.id)) continue;
      state.files.set(record.id, record);
      $("gallery").append(card(record));
    }
    state.cursor = page.meta.cursor;
    state.total = page.meta.totalCount;
    showCount();
  } catch (error) {
    fail(error);
  } finally {
    if (generation === state.generation) state.loading = false;
  }
  if (state.cursor && generation === state.generation && sentinelVisible()) loadMore();
}

function showCount() {
  const n = state.total;
  $("count").textContent = `${n} file${n === 1 ? "" : "s"}${state.cursor ? ", scroll for more" : ""}`;
}

function sentinelVisible() {
  const rect = $("more").getBoundingClientRect();
  return rect.top < window.innerHeight + 400;
}

function addUploaded(record) {
  const f = filters();
  if (f.search || f.types || f.tags) return; // it shows when the filters allow it
  state.files.set(record.id, record);
  $("gallery").prepend(card(record));
  state.total += 1;
  showCount();
}

async function loadTags() {
  try {
    const tags = (await state.api.call(Q.tags, {}, "listTagsWithCount")).data;
    const select = $("tag-filter");
    const chosen = select.value;
    const options = [new Option("All tags", "")];
    for (const { tag, count } of tags) options.push(new Option(`${tag} (${count})`, tag));
    select.replaceChildren(...options);
    select.value = tags.some((t) => t.tag === chosen) ? chosen : "";
  } catch (error) {
    fail(error);
  }
}

function updateSelection() {
  const n = state.selected.size;
  $("delete-selected").disabled = n === 0;
  $("delete-selected").textContent = n ? `Delete selected (${n})` : "Delete selected";
}

// --- details ---------------------------------------------------------------------------------------

function showDetails(id) {
  const record = state.files.get(id);
  if (!record) return;
  state.current = record;
  $("details").hidden = false;
  $("d-name").value = record.name;
  $("d-size").textContent = `${formatBytes(record.size)} (${record.size} bytes)`;
  $("d-type").textContent = record.type;
  $("d-created").textContent = record.createdOn ? new Date(record.createdOn).toLocaleString() : "";
  $("d-tags").value = record.tags.join(", ");
  $("d-dimensions").textContent = isImage(record) ? "measuring…" : "not an image";
  const widths = $("d-width");
  const options = [new Option("Original", "")];
  if (isImage(record)) for (const w of state.config.widths) options.push(new Option(`${w} px`, String(w)));
  widths.replaceChildren(...options);
  updateUrl();
  const preview = $("preview");
  preview.hidden = !isImage(record);
  if (isImage(record)) {
    preview.srcset = state.config.widths.map((w) => `${widthUrl(record, w)} ${w}w`).join(", ");
    preview.sizes = "300px";
    preview.src = widthUrl(record, 300);
    preview.alt = `Preview of ${record.name}`;
    measure(record);
  }
  $("d-name").focus();
}

function measure(record) {
  const probe = new Image();
  probe.onload = () => {
    if (state.current === record) $("d-dimensions").textContent = `${probe.naturalWidth} × ${probe.naturalHeight} px`;
  };
  probe.onerror = () => {
    if (state.current === record) $("d-dimensions").textContent = "unknown";
  };
  probe.src = record.src;
}

function updateUrl() {
  if (state.current) $("d-url").value = widthUrl(state.current, $("d-width").value);
}

function replaceRecord(record) {
  state.files.set(record.id, record);
  state.current = record;
  $("d-name").value = record.name;
  $("d-tags").value = record.tags.join(", ");
  const old = document.querySelector(`.card[data-id="${CSS.escape(record.id)}"]`);
  if (old) old.replaceWith(card(record));
}

async function saveChanges(data, done) {
  try {
    const result = await state.api.call(Q.update, { id: state.current.id, data }, "updateFile");
    replaceRecord(result.data);
    say(done);
    alertText("");
    if (data.tags) loadTags();
  } catch (error) {
    fail(error);
  }
}

function confirmDelete(names) {
  const dialog = $("confirm");
  $("confirm-text").textContent =
    names.length === 1 ? `Delete ${names[0]}? Its resized copies go too.` : `Delete these ${names.length} files? Their resized copies go too.`;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true }));
}

async function deleteFiles(ids) {
  const names = ids.map((id) => state.files.get(id)?.name || id);
  if (!(await confirmDelete(names))) return;
  const failed = [];
  await Promise.all(
    ids.map(async (id) => {
      try {
        await state.api.call(Q.remove, { id }, "deleteFile");
        state.files.delete(id);
        state.selected.delete(id);
        document.querySelector(`.card[data-id="${CSS.escape(id)}"]`)?.remove();
        state.total -= 1;
        if (state.current && state.current.id === id) closeDetails();
      } catch (error) {
        failed.push(`${state.files.get(id)?.name || id}: ${explain(error)}`);
      }
    }),
  );
  updateSelection();
  showCount();
  loadTags();
  say(`${ids.length - failed.length} deleted.`);
  alertText(failed.join(" "));
}

function closeDetails() {
  const id = state.current && state.current.id;
  state.current = null;
  $("details").hidden = true;
  if (id) document.querySelector(`.card[data-id="${CSS.escape(id)}"] .open`)?.focus();
}

// --- wiring ----------------------------------------------------------------------------------------

function wire() {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    alertText("");
    signIn();
  });
  $("sign-out").addEventListener("click", () => signedOut("Signed out."));

  $("picker").addEventListener("change", () => {
    addFiles([...$("picker").files]);
    $("picker").value = "";
  });
  const drop = $("drop");
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
  }
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    addFiles([...event.dataTransfer.files]);
  });
  $("cancel-all").addEventListener("click", () => queue.cancelAll());

  let timer = null;
  $("search").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(reload, 250);
  });
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    reload();
  });
  $("type-filter").addEventListener("change", reload);
  $("tag-filter").addEventListener("change", reload);
  $("delete-selected").addEventListener("click", () => deleteFiles([...state.selected]));

  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore();
  }, { rootMargin: "400px" }).observe($("more"));

  $("rename-form").addEventListener("submit", (event) => {
    event.preventDefault();
    saveChanges({ name: $("d-name").value.trim() }, "Renamed.");
  });
  $("tags-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const tags = $("d-tags").value.split(",").map((t) => t.trim()).filter(Boolean);
    saveChanges({ tags }, "Tags saved.");
  });
  $("d-width").addEventListener("change", updateUrl);
  $("url-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    updateUrl();
    const url = $("d-url").value;
    try {
      await navigator.clipboard.writeText(url);
      say(`Copied ${url}`);
    } catch {
      $("d-url").select();
      say("Select the URL and copy it (the clipboard was not available).");
    }
  });
  $("d-delete").addEventListener("click", () => state.current && deleteFiles([state.current.id]));
  $("d-close").addEventListener("click", closeDetails);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("details").hidden && !$("confirm").open) closeDetails();
  });
}

async function start() {
  wire();
  try {
    state.config = await (await fetch("/app/config.json", { cache: "no-store" })).json();
  } catch {
    alertText("The gateway cannot be reached; reload the page to try again.");
    return;
  }
  state.api = new Api(state.config.graphql, token, () => signedOut("The token was refused; sign in again."));
  await signIn();
  document.body.dataset.ready = "true";
}

start();
