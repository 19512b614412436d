// Files attached to a message: uploaded as they are picked (with progress), shown as
// chips in the composer, and on the sent message as thumbnails or download links.
import { html } from './ui.js';
import { useState, useEffect } from '../vendor/preact-hooks.js';
import { ApiError, csrfToken, errorFrom, refresh, request } from './api.js';

export const MAX_FILES = 10;

// Types browsers leave empty that attachments take as text.
const TEXT_NAME = /\.(md|markdown|txt|log|csv|tsv|toml|ya?ml|ini|cfg|conf|rs|py|go|rb|java|kt|c|h|cpp|hpp|cs|sh|sql|tex)$/i;

function typeOf(file) {
  return file.type || (TEXT_NAME.test(file.name) ? 'text/plain' : 'application/octet-stream');
}

// Hex SHA-256 of the body: CloudFront forwards a body over 1 MB only with it. Missing
// outside a secure context (plain http to another host), where it is not needed.
async function sha256(body) {
  if (!crypto.subtle) return null;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', body));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// The API's refusal as a sentence that names the file.
function uploadError(name, e) {
  const limit = e.message.match(/larger than (\d+) bytes/);
  const why = e.status === 413
    ? `it is too large${limit ? ` (the limit is ${formatSize(Number(limit[1]))})` : ''}`
    : e.message;
  return new ApiError(e.status, e.code, `“${name}” was not attached: ${why}.`);
}

function post(sessionId, file, body, hash, onProgress, started) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    started(xhr);
    xhr.open('POST', `/sessions/${sessionId}/attachments?filename=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader('Content-Type', typeOf(file));
    xhr.setRequestHeader('X-CSRF-Token', csrfToken());
    if (hash) xhr.setRequestHeader('x-amz-content-sha256', hash);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => resolve(xhr);
    xhr.onerror = () => reject(new Error(`“${file.name}” was not attached: the connection was lost (is the file too large?).`));
    xhr.onabort = () => reject(new DOMException('The upload was cancelled.', 'AbortError'));
    xhr.send(body);
  });
}

// Uploads one file to the session (XMLHttpRequest: fetch reports no upload progress).
// `onProgress(fraction)` follows it; returns {promise of the attachment, abort}.
export function upload(sessionId, file, onProgress) {
  let xhr = null;
  let aborted = false;
  const promise = (async () => {
    const body = await file.arrayBuffer();
    const hash = await sha256(body);
    for (let attempt = 0; ; attempt++) {
      if (aborted) throw new DOMException('The upload was cancelled.', 'AbortError');
      const done = await post(sessionId, file, body, hash, onProgress, (x) => { xhr = x; });
      if (done.status === 401 && attempt === 0 && (await refresh())) continue;
      if (done.status === 201) return JSON.parse(done.responseText);
      throw uploadError(file.name, errorFrom(done.status, done.responseText));
    }
  })();
  return { promise, abort: () => { aborted = true; xhr?.abort(); } };
}

// The composer's files: uploading ones with their progress, uploaded ones removable.
export function FileChips({ files, onRemove }) {
  if (!files.length) return null;
  return html`<ul class="chips" aria-label="Files to send">${files.map((f) => html`<li class="chip" key=${f.key}>
    <span class="chip-name">${f.name}</span> <span class="muted">${formatSize(f.size)}</span>
    ${!f.attachment && html`<progress max="1" value=${f.progress} aria-label=${`Uploading ${f.name}`} />`}
    <button type="button" class="small ghost" aria-label=${`Remove ${f.name}`} onClick=${() => onRemove(f)}>✕</button>
  </li>`)}</ul>`;
}

// A paperclip, drawn here (emoji need a font the system may lack).
export function Clip() {
  return html`<svg class="icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
    <path d="M9 7v9a3 3 0 0 0 6 0V5.5a4.5 4.5 0 0 0-9 0V16a6 6 0 0 0 12 0V7" fill="none" stroke="currentColor"
      stroke-width="1.8" stroke-linecap="round" /></svg>`;
}

const fileUrl = (sessionId, id) => `/sessions/${sessionId}/attachments/${id}`;

// A sent message's files: images as thumbnails, anything else as a download link.
export function MessageFiles({ sessionId, files }) {
  if (!files?.length) return null;
  return html`<ul class="files" aria-label="Attached files">${files.map((f) => html`<li key=${f.id}>
    ${f.content_type.startsWith('image/')
      ? html`<${Thumbnail} url=${fileUrl(sessionId, f.id)} name=${f.filename} />`
      : html`<a class="file-link" href=${fileUrl(sessionId, f.id)} download=${f.filename}><${Clip} />${f.filename}</a>`}
  </li>`)}</ul>`;
}

// An image fetched with the login cookie and shown from a blob (an <img> of the API path
// would work too, but could not tell a deleted file from a broken one).
function Thumbnail({ url, name }) {
  const [src, setSrc] = useState(null);
  const [missing, setMissing] = useState(false);
  useEffect(() => {
    let objectUrl = null;
    let live = true;
    request('GET', url)
      .then((resp) => resp.blob())
      .then((blob) => {
        if (!live) return;
        objectUrl = URL.createObjectURL(blob);
        setSrc(objectUrl);
      })
      .catch(() => live && setMissing(true));
    return () => {
      live = false;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
    };
  }, [url]);
  if (missing) return html`<span class="muted">${name} (no longer available)</span>`;
  if (!src) return html`<span class="thumb loading-thumb" role="img" aria-label=${`${name}, loading`} />`;
  return html`<a href=${src} download=${name}><img class="thumb" src=${src} alt=${name} /></a>`;
}
