// Shared view helpers: the `html` template tag, routing, theme, and small components.
import { h, render } from '../vendor/preact.js';
import { useState, useEffect, useCallback } from '../vendor/preact-hooks.js';
import htm from '../vendor/htm.js';

export const html = htm.bind(h);
export { render };

// Routing on the History API: pages are plain paths served the app by the server.
export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  dispatchEvent(new Event('confab:navigate'));
}

export function usePath() {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = () => setPath(location.pathname);
    addEventListener('popstate', update);
    addEventListener('confab:navigate', update);
    return () => {
      removeEventListener('popstate', update);
      removeEventListener('confab:navigate', update);
    };
  }, []);
  return path;
}

// A link that changes page without reloading (unless opened in a new tab).
export function Link({ href, children, onClick, ...rest }) {
  const go = (e) => {
    onClick?.(e);
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} ...${rest} onClick=${go}>${children}</a>`;
}

// Theme: the system's unless the user picked one (kept in localStorage: not a secret).
const THEME_KEY = 'confab-theme';
export function applyTheme() {
  const chosen = localStorage.getItem(THEME_KEY);
  if (chosen) document.documentElement.dataset.theme = chosen;
  else delete document.documentElement.dataset.theme;
}

export function ThemeToggle() {
  const dark = () =>
    (document.documentElement.dataset.theme || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light')) === 'dark';
  const [isDark, setDark] = useState(dark());
  const toggle = () => {
    localStorage.setItem(THEME_KEY, isDark ? 'light' : 'dark');
    applyTheme();
    setDark(dark());
  };
  return html`<button type="button" class="ghost" onClick=${toggle} aria-label=${isDark ? 'Use the light theme' : 'Use the dark theme'}>
    ${isDark ? '☀' : '☾'}</button>`;
}

export function ErrorText({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.message || String(error)}</p>`;
}

export function Field({ label, type = 'text', value, onInput, ...rest }) {
  return html`<label class="field"><span>${label}</span>
    <input type=${type} value=${value} onInput=${(e) => onInput(e.currentTarget.value)} ...${rest} /></label>`;
}

// Runs an async action, keeping its error and whether it is running.
export function useAction(fn) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = useCallback(async (...args) => {
    setBusy(true);
    setError(null);
    try {
      return await fn(...args);
    } catch (e) {
      setError(e);
      return undefined;
    } finally {
      setBusy(false);
    }
  }, [fn]);
  return [run, busy, error, setError];
}

// Loads data when `deps` change; `reload` fetches again.
export function useLoad(fn, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    fn().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }),
    );
    return () => { live = false; };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

export function CopyButton({ text, label = 'Copy' }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(text);
    setDone(true);
    setTimeout(() => setDone(false), 1500);
  };
  return html`<button type="button" class="small" onClick=${copy}>${done ? 'Copied' : label}</button>`;
}

export function formatDate(iso) {
  return iso ? new Date(iso).toLocaleString() : '';
}
