// The app's entry: who is signed in, and which page a path shows.
import { html, render, usePath, navigate, applyTheme, ThemeToggle, Link } from './ui.js';
import { useState, useEffect } from '../vendor/preact-hooks.js';
import { get, api, refresh, scheduleRefresh, stopRefreshing, onSignedOut } from './api.js';
import { SignInPage, ResetPasswordPage } from './auth.js';
import { ChatPage } from './chat.js';
import { SharedPage } from './share.js';

// Pages away from the chat load their code when first opened.
const lazy = (load, name) => function Lazy(props) {
  const [Page, setPage] = useState(null);
  useEffect(() => { load().then((m) => setPage(() => m[name])); }, []);
  return Page ? html`<${Page} ...${props} />` : html`<p class="loading">Loading…</p>`;
};
const SettingsPage = lazy(() => import('./settings.js'), 'SettingsPage');
const AdminPage = lazy(() => import('./admin.js'), 'AdminPage');

// The signed-in user, or null; undefined while finding out. A page load refreshes the
// login first, which also schedules the next silent refresh.
async function whoIsSignedIn() {
  if (!(await refresh())) return null;
  return (await get('/auth/me')).user;
}

function App() {
  const path = usePath();
  const [user, setUser] = useState(undefined);
  useEffect(() => {
    whoIsSignedIn().then(setUser, () => setUser(null));
    return onSignedOut(() => { stopRefreshing(); setUser(null); });
  }, []);
  const public_ = publicPage(path);
  if (public_) return public_;
  if (user === undefined) return html`<p class="loading">Loading…</p>`;
  if (user === null) {
    return html`<${SignInPage} onSignedIn=${(answer) => {
      scheduleRefresh(answer.expires_in);
      setUser(answer.user);
      if (location.search.includes('auth_error')) navigate('/', { replace: true });
    }} />`;
  }
  const reloadUser = () => get('/auth/me').then((r) => setUser(r.user));
  const signOut = async () => {
    await api('POST', '/auth/logout').catch(() => null);
    stopRefreshing();
    setUser(null);
    navigate('/');
  };
  return html`<${Shell} user=${user} onSignOut=${signOut}>${page(path, user, reloadUser, signOut)}<//>`;
}

function publicPage(path) {
  const share = path.match(/^\/share\/([^/]+)$/);
  if (share) return html`<${SharedPage} token=${decodeURIComponent(share[1])} />`;
  if (path === '/reset-password') return html`<${ResetPasswordPage} />`;
  return null;
}

function page(path, user, reloadUser, signOut) {
  const chat = path.match(/^\/c\/([^/]+)$/);
  if (chat) return html`<${ChatPage} sessionId=${chat[1]} user=${user} />`;
  if (path === '/settings') {
    return html`<main class="page" id="main"><${SettingsPage} user=${user} onUserChanged=${reloadUser} onSignedOut=${signOut} /></main>`;
  }
  const admin = path.match(/^\/console(?:\/([a-z]+))?$/);
  if (admin && user.role === 'admin') {
    return html`<main class="page" id="main"><${AdminPage} tab=${admin[1] || 'users'} user=${user} /></main>`;
  }
  return html`<${ChatPage} user=${user} />`;
}

function Shell({ user, onSignOut, children }) {
  return html`<div class="shell">
    <a class="skip" href="#main">Skip to content</a>
    <header class="topbar">
      <${Link} href="/" class="brand">confab<//>
      <div class="topbar-end">
        <span class="muted who">${user.name || user.email}</span>
        <${ThemeToggle} />
        <button type="button" class="ghost" onClick=${onSignOut}>Sign out</button>
      </div>
    </header>
    <div class="shell-body">${children}</div>
  </div>`;
}

applyTheme();
render(html`<${App} />`, document.getElementById('app'));
