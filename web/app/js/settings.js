// Settings: password, two-step verification, signed-in devices, API keys, deletion.
import { html, Field, ErrorText, useAction, useLoad, CopyButton, formatDate } from './ui.js';
import { useState, useEffect } from '../vendor/preact-hooks.js';
import { api, get } from './api.js';

export function SettingsPage({ user, onUserChanged, onSignedOut }) {
  return html`<div class="settings">
    <h1>Settings</h1>
    <p class="muted">Signed in as ${user.email}${user.role === 'admin' ? ' (admin)' : ''}</p>
    <${PasswordSection} />
    <${MfaSection} user=${user} onChanged=${onUserChanged} />
    <${LoginsSection} />
    <${ApiKeysSection} user=${user} />
    <${DeleteSection} user=${user} onDeleted=${onSignedOut} />
  </div>`;
}

function Section({ title, id, children }) {
  return html`<section class="card" aria-labelledby=${id}><h2 id=${id}>${title}</h2>${children}</section>`;
}

function PasswordSection() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [done, setDone] = useState(false);
  const [submit, busy, error] = useAction(async () => {
    setDone(false);
    await api('POST', '/auth/password', { current_password: current, new_password: next });
    setCurrent('');
    setNext('');
    setDone(true);
  });
  return html`<${Section} title="Password" id="password-heading">
    <form onSubmit=${(e) => { e.preventDefault(); submit(); }}>
      <${Field} label="Current password" type="password" value=${current} onInput=${setCurrent} required autocomplete="current-password" />
      <${Field} label="New password" type="password" value=${next} onInput=${setNext} required minlength="8" autocomplete="new-password" />
      <${ErrorText} error=${error} />
      ${done && html`<p role="status" class="ok">Password changed. Your other devices are signed out.</p>`}
      <button type="submit" class="primary" disabled=${busy}>Change password</button>
    </form><//>`;
}

function QrCode({ text }) {
  const [src, setSrc] = useState('');
  useEffect(() => {
    import('../vendor/qrcode.js').then(({ default: qrcode }) => {
      const qr = qrcode(0, 'M');
      qr.addData(text);
      qr.make();
      setSrc(qr.createDataURL(6, 12));
    });
  }, [text]);
  return src && html`<img class="qr" src=${src} alt="QR code for your authenticator app" width="240" height="240" />`;
}

function MfaSection({ user, onChanged }) {
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [setup, setSetup] = useState(null);
  const [recovery, setRecovery] = useState(null);
  const [start, startBusy, startError] = useAction(async () => {
    setSetup(await api('POST', '/auth/mfa/totp/setup', { password }));
    setPassword('');
  });
  const [enable, enableBusy, enableError] = useAction(async () => {
    const { recovery_codes: codes } = await api('POST', '/auth/mfa/totp/enable', { code: code.trim() });
    setRecovery(codes);
    setSetup(null);
    setCode('');
    onChanged();
  });
  const [disable, disableBusy, disableError] = useAction(async () => {
    await api('POST', '/auth/mfa/totp/disable', { password, code: code.trim() });
    setPassword('');
    setCode('');
    setRecovery(null);
    onChanged();
  });
  const form = (fn) => (e) => { e.preventDefault(); fn(); };
  let body;
  if (recovery) {
    body = html`<div role="status"><p class="ok">Two-step verification is on. Keep these recovery codes somewhere safe; each works once and they are not shown again.</p>
      <ul class="codes">${recovery.map((c) => html`<li><code>${c}</code></li>`)}</ul>
      <${CopyButton} text=${recovery.join('\n')} label="Copy codes" />
      <button type="button" class="small" onClick=${() => setRecovery(null)}>Done</button></div>`;
  } else if (setup) {
    body = html`<div class="mfa-setup"><p>Scan this with your authenticator app, or type the key.</p>
      <${QrCode} text=${setup.otpauth_url} />
      <p>Key: <code class="secret">${setup.secret}</code></p>
      <form onSubmit=${form(enable)}>
        <${Field} label="Code from the app" value=${code} onInput=${setCode} required inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" />
        <${ErrorText} error=${enableError} />
        <button type="submit" class="primary" disabled=${enableBusy}>Turn on</button></form></div>`;
  } else if (user.mfa_enabled) {
    body = html`<p>Two-step verification is on.</p>
      <form onSubmit=${form(disable)}>
        <${Field} label="Password" type="password" value=${password} onInput=${setPassword} required autocomplete="current-password" />
        <${Field} label="Code from the app" value=${code} onInput=${setCode} required inputmode="numeric" autocomplete="one-time-code" />
        <${ErrorText} error=${disableError} />
        <button type="submit" class="danger" disabled=${disableBusy}>Turn off</button></form>`;
  } else {
    body = html`<p>Protect your account with a code from an authenticator app at each sign-in.</p>
      <form onSubmit=${form(start)}>
        <${Field} label="Password" type="password" value=${password} onInput=${setPassword} required autocomplete="current-password" />
        <${ErrorText} error=${startError} />
        <button type="submit" class="primary" disabled=${startBusy}>Set up two-step verification</button></form>`;
  }
  return html`<${Section} title="Two-step verification" id="mfa-heading">${body}<//>`;
}

function LoginsSection() {
  const logins = useLoad(() => get('/auth/logins'), []);
  const [revoke, , error] = useAction(async (id) => {
    await api('DELETE', `/auth/logins/${id}`);
    logins.reload();
  });
  return html`<${Section} title="Signed-in devices" id="logins-heading">
    <${ErrorText} error=${logins.error || error} />
    <ul class="rows">${logins.data?.items.map((l) => html`<li>
      <div><strong>${l.user_agent || 'Unknown device'}</strong>${l.current && html` <span class="badge">this device</span>`}
        <div class="muted">${l.ip || ''} · signed in ${formatDate(l.created_at)} · last seen ${formatDate(l.last_used_at)}</div></div>
      ${!l.current && html`<button type="button" class="small danger" onClick=${() => revoke(l.id)}>Sign out</button>`}
    </li>`)}</ul><//>`;
}

const SCOPES = ['chat', 'sessions:read', 'sessions:write', 'admin'];

function ApiKeysSection({ user }) {
  const keys = useLoad(() => get('/auth/api-keys'), []);
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState(['chat', 'sessions:read', 'sessions:write']);
  const [created, setCreated] = useState(null);
  const [create, busy, error] = useAction(async () => {
    setCreated(await api('POST', '/auth/api-keys', { name, scopes }));
    setName('');
    keys.reload();
  });
  const [remove, , removeError] = useAction(async (id) => {
    await api('DELETE', `/auth/api-keys/${id}`);
    keys.reload();
  });
  const toggle = (scope) => setScopes(scopes.includes(scope) ? scopes.filter((s) => s !== scope) : [...scopes, scope]);
  const offered = SCOPES.filter((s) => s !== 'admin' || user.role === 'admin');
  return html`<${Section} title="API keys" id="keys-heading">
    <p class="muted">Keys let programs use confab's API, including the OpenAI-compatible <code>/v1</code>.</p>
    ${created && html`<div class="created-key" role="status">
      <p class="ok">Copy the key “${created.name}” now: it is not shown again.</p>
      <code class="secret" data-testid="new-key">${created.key}</code>
      <${CopyButton} text=${created.key} />
      <button type="button" class="small" onClick=${() => setCreated(null)}>Done</button></div>`}
    <form onSubmit=${(e) => { e.preventDefault(); create(); }}>
      <${Field} label="Key name" value=${name} onInput=${setName} required maxlength="100" />
      <fieldset><legend>Scopes</legend>
        ${offered.map((s) => html`<label class="check"><input type="checkbox" checked=${scopes.includes(s)} onChange=${() => toggle(s)} /> ${s}</label>`)}
      </fieldset>
      <${ErrorText} error=${error} />
      <button type="submit" class="primary" disabled=${busy}>Create key</button></form>
    <${ErrorText} error=${keys.error || removeError} />
    <ul class="rows">${keys.data?.items.map((k) => html`<li>
      <div><strong>${k.name}</strong> <span class="muted">${k.scopes?.join(', ')}</span>
        <div class="muted">created ${formatDate(k.created_at)}${k.last_used_at ? ` · last used ${formatDate(k.last_used_at)}` : ''}</div></div>
      <button type="button" class="small danger" onClick=${() => remove(k.id)} aria-label=${`Revoke ${k.name}`}>Revoke</button>
    </li>`)}</ul><//>`;
}

function DeleteSection({ user, onDeleted }) {
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [submit, busy, error] = useAction(async () => {
    if (!confirm('Delete your account and every conversation? This cannot be undone.')) return;
    await api('DELETE', '/auth/me', { password, ...(user.mfa_enabled ? { code } : {}) });
    onDeleted();
  });
  return html`<${Section} title="Delete account" id="delete-heading">
    <form onSubmit=${(e) => { e.preventDefault(); submit(); }}>
      <${Field} label="Password" type="password" value=${password} onInput=${setPassword} autocomplete="current-password" />
      ${user.mfa_enabled && html`<${Field} label="Code from the app" value=${code} onInput=${setCode} inputmode="numeric" />`}
      <${ErrorText} error=${error} />
      <button type="submit" class="danger" disabled=${busy}>Delete my account</button></form><//>`;
}
