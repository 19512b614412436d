// The API client. Authentication is the HttpOnly cookies the server sets; writes echo
// the readable `confab_csrf` cookie in `X-CSRF-Token`. No token is kept where scripts
// can read it: the access token in login answers is ignored.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

const REFRESH_MARGIN_SECONDS = 60;
const NO_RETRY = ['/auth/login', '/auth/register', '/auth/refresh', '/auth/logout'];
let refreshTimer = null;
let refreshing = null;
const signedOutListeners = new Set();

export function onSignedOut(listener) {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

export function csrfToken() {
  const cookie = document.cookie.split('; ').find((c) => c.startsWith('confab_csrf='));
  return cookie ? decodeURIComponent(cookie.slice('confab_csrf='.length)) : '';
}

function headersFor(method, body, extra) {
  const headers = { ...extra };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken();
  return headers;
}

// A fetch with the cookies and CSRF header; a 401 refreshes the login once and retries.
export async function request(method, path, body, { signal, headers } = {}) {
  const send = () => fetch(path, {
    method,
    credentials: 'same-origin',
    headers: headersFor(method, body, headers),
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  let resp = await send();
  if (resp.status === 401 && !NO_RETRY.includes(path) && (await refresh())) resp = await send();
  if (!resp.ok) throw await errorOf(resp);
  return resp;
}

async function errorOf(resp) {
  return errorFrom(resp.status, await resp.text().catch(() => ''));
}

// The API's error of a failed answer, from its status and body text.
export function errorFrom(status, text) {
  let code = null;
  let message = null;
  try {
    const body = JSON.parse(text);
    code = body.error?.code;
    message = body.error?.message;
  } catch {
    // Not JSON: the status says enough.
  }
  if (status === 401 && code === 'unauthorized') signedOutListeners.forEach((l) => l());
  return new ApiError(status, code, message);
}

export async function api(method, path, body) {
  const resp = await request(method, path, body);
  if (resp.status === 204) return null;
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path) => api('GET', path);

// One refresh at a time (tabs and parallel requests share it); true when signed in.
// With no CSRF cookie there is no login to refresh (and no 401 to log).
export function refresh() {
  if (!csrfToken()) return Promise.resolve(false);
  if (!refreshing) {
    refreshing = fetch('/auth/refresh', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': csrfToken() },
    })
      .then(async (resp) => {
        if (!resp.ok) return false;
        scheduleRefresh((await resp.json()).expires_in);
        return true;
      })
      .catch(() => false)
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

// Refreshes a minute before the access cookie expires, so requests never meet a 401.
export function scheduleRefresh(expiresIn) {
  clearTimeout(refreshTimer);
  if (!expiresIn) return;
  const delay = Math.max(5, expiresIn - REFRESH_MARGIN_SECONDS) * 1000;
  refreshTimer = setTimeout(refresh, delay);
}

export function stopRefreshing() {
  clearTimeout(refreshTimer);
}

export function query(params) {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '');
  return entries.length ? `?${new URLSearchParams(entries)}` : '';
}

// Every page of a list endpoint.
export async function all(path, params = {}) {
  const items = [];
  let cursor = null;
  do {
    const page = await get(path + query({ ...params, limit: 100, cursor }));
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}
