// A shared conversation, readable by anyone with the link (no sign-in).
import { html, ErrorText, useLoad, ThemeToggle, formatDate } from './ui.js';
import { get } from './api.js';
import { Markdown } from './markdown.js';

export function SharedPage({ token }) {
  const shared = useLoad(() => get(`/shared/${encodeURIComponent(token)}`), [token]);
  const title = shared.data?.title || 'Shared conversation';
  return html`<main class="shared-page" id="main">
    <header class="page-head"><h1>${title}</h1><${ThemeToggle} /></header>
    ${shared.error && html`<${ErrorText} error=${shared.error.status === 404 ? new Error('This link does not exist or was revoked.') : shared.error} />`}
    ${shared.data && html`<p class="muted">Shared ${formatDate(shared.data.shared_at)}</p>
      <ol class="turns">${shared.data.messages.map((m) => html`<li class=${`turn ${m.role}`}>
        ${m.role === 'user' ? html`<div class="bubble">${m.content}</div>`
          : html`<${Markdown} text=${m.content} />`}</li>`)}</ol>`}
  </main>`;
}
