// Signing in and registering (password, the MFA step, identity providers), and the
// password reset page an admin's link opens.
import { html, Field, ErrorText, useAction, useLoad, ThemeToggle, navigate } from './ui.js';
import { useState } from '../vendor/preact-hooks.js';
import { api, get, ApiError } from './api.js';

const AUTH_ERRORS = {
  account_exists: 'An account with this email already exists: sign in with its password.',
  account_disabled: 'This account is disabled.',
  email_not_verified: 'The identity provider has not verified this email address.',
  domain_not_allowed: 'Accounts from this email domain cannot sign in here.',
  mfa_required: 'This account uses two-step verification: sign in with its password and code.',
  rate_limited: 'Too many attempts: try again in a minute.',
};

export function SignInPage({ onSignedIn }) {
  const params = new URLSearchParams(location.search);
  const authError = params.get('auth_error');
  const [mode, setMode] = useState('signin');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [name, setName] = useState('');
  const [mfa, setMfa] = useState(false);
  const [code, setCode] = useState('');
  const [useRecovery, setUseRecovery] = useState(false);
  const providers = useLoad(() => get('/auth/oidc/providers').catch(() => ({ items: [] })), []);
  const [submit, busy, error, setError] = useAction(async () => {
    try {
      const body = mode === 'register' ? { email, password, ...(name ? { name } : {}) } : { email, password };
      if (mfa) body[useRecovery ? 'recovery_code' : 'totp'] = code.trim();
      const answer = await api('POST', mode === 'register' ? '/auth/register' : '/auth/login', body);
      onSignedIn(answer);
    } catch (e) {
      if (e instanceof ApiError && e.code === 'mfa_required') {
        setMfa(true);
        return;
      }
      throw e;
    }
  });
  const switchMode = () => { setMode(mode === 'signin' ? 'register' : 'signin'); setMfa(false); setError(null); };
  const heading = mode === 'register' ? 'Create your account' : mfa ? 'Two-step verification' : 'Sign in to confab';
  return html`<main class="auth-page" id="main">
    <div class="auth-card">
      <div class="auth-head"><h1>${heading}</h1><${ThemeToggle} /></div>
      ${authError && html`<p class="error" role="alert">${AUTH_ERRORS[authError] || `Signing in failed (${authError}).`}</p>`}
      <form onSubmit=${(e) => { e.preventDefault(); submit(); }}>
        ${!mfa && html`
          ${mode === 'register' && html`<${Field} label="Name (optional)" value=${name} onInput=${setName} autocomplete="name" />`}
          <${Field} label="Email" type="email" value=${email} onInput=${setEmail} required autocomplete="email" />
          <${Field} label="Password" type="password" value=${password} onInput=${setPassword} required minlength="8"
            autocomplete=${mode === 'register' ? 'new-password' : 'current-password'} />`}
        ${mfa && html`
          <p>${useRecovery ? 'Enter one of your recovery codes.' : 'Enter the 6-digit code from your authenticator app.'}</p>
          <${Field} label=${useRecovery ? 'Recovery code' : 'Code'} value=${code} onInput=${setCode} required autofocus
            autocomplete="one-time-code" inputmode=${useRecovery ? 'text' : 'numeric'} />
          <button type="button" class="link" onClick=${() => setUseRecovery(!useRecovery)}>
            ${useRecovery ? 'Use the authenticator code' : 'Use a recovery code'}</button>`}
        <${ErrorText} error=${error} />
        <button type="submit" class="primary wide" disabled=${busy}>${mode === 'register' ? 'Create account' : mfa ? 'Verify' : 'Sign in'}</button>
      </form>
      ${providers.data?.items.length > 0 && !mfa && html`<div class="providers">
        <p class="muted">or</p>
        ${providers.data.items.map((p) => html`<a class="button wide" href=${`/auth/oidc/${encodeURIComponent(p.name)}/start?return_to=/`}>
          Continue with ${p.display_name || p.name}</a>`)}</div>`}
      <p class="switch">${mode === 'signin' ? 'New here? ' : 'Have an account? '}
        <button type="button" class="link" onClick=${switchMode}>${mode === 'signin' ? 'Create an account' : 'Sign in'}</button></p>
    </div></main>`;
}

export function ResetPasswordPage() {
  const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  const [password, setPassword] = useState('');
  const [done, setDone] = useState(false);
  const [submit, busy, error] = useAction(async () => {
    await api('POST', '/auth/password/reset', { token, new_password: password });
    setDone(true);
  });
  return html`<main class="auth-page" id="main"><div class="auth-card">
    <h1>Choose a new password</h1>
    ${done
      ? html`<p role="status">Your password is changed. <button type="button" class="link" onClick=${() => navigate('/')}>Sign in</button></p>`
      : html`<form onSubmit=${(e) => { e.preventDefault(); submit(); }}>
          <${Field} label="New password" type="password" value=${password} onInput=${setPassword} required minlength="8" autocomplete="new-password" />
          <${ErrorText} error=${error} />
          <button type="submit" class="primary wide" disabled=${busy || !token}>Set password</button></form>`}
  </div></main>`;
}
