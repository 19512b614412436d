// Research replies: the plan and the agents' steps while it runs, the numbered sources
// the report cites as [n].
import { html } from './ui.js';
import { useState, useEffect } from '../vendor/preact-hooks.js';
import { get } from './api.js';

export const DEPTHS = ['quick', 'standard', 'deep'];

let capabilities = null;

// `GET /chat/capabilities`, asked once per page load.
export function useCapabilities() {
  const [caps, setCaps] = useState({});
  useEffect(() => {
    capabilities ??= get('/chat/capabilities').catch(() => {
      capabilities = null;
      return {};
    });
    let live = true;
    capabilities.then((c) => live && setCaps(c));
    return () => { live = false; };
  }, []);
  return caps;
}

// Only web addresses become links: a source's URL comes from the web.
export function webUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : null;
  } catch {
    return null;
  }
}

function host(url) {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

export function ResearchProgress({ plan, steps }) {
  return html`<div class="research">
    ${plan && html`<div class="plan"><p class="label">Plan</p>
      <ol aria-label="Research plan">${plan.map((q) => html`<li>${q}</li>`)}</ol></div>`}
    ${steps.length > 0 && html`<ol class="steps" aria-label="Research steps" tabindex="0">
      ${steps.map((s) => html`<li class=${`step ${s.status}`}>
        <span class="agent">${s.agent}</span> <span class="step-status">${s.status}</span>
        ${s.detail && html` <span class="detail">${s.detail}</span>`}</li>`)}</ol>`}
  </div>`;
}

export function Sources({ sources }) {
  const sorted = [...sources].sort((a, b) => a.n - b.n);
  return html`<div class="sources"><p class="label">Sources</p>
    <ol aria-label="Sources">${sorted.map((s) => {
      const url = webUrl(s.url);
      const title = s.title || s.url;
      return html`<li key=${s.n} value=${s.n}>
        ${url ? html`<a href=${url} target="_blank" rel="noopener noreferrer">${title}</a>` : title}
        <span class="muted host">${host(s.url)}</span></li>`;
    })}</ol></div>`;
}

// Turns the report's [n] under `root` into links to source n (text in code is left be).
// Built with DOM nodes on the sanitised tree, never by editing its HTML.
export function cite(root, sources) {
  if (!sources?.length) return;
  const byNumber = new Map(sources.map((s) => [String(s.n), s]));
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (/\[\d+\]/.test(node.data) && !node.parentElement.closest('code, a')) found.push(node);
  }
  for (const node of found) {
    node.replaceWith(...node.data.split(/(\[\d+\])/).map((part) => {
      const source = byNumber.get(part.match(/^\[(\d+)\]$/)?.[1]);
      const url = source && webUrl(source.url);
      if (!url) return part;
      const a = document.createElement('a');
      a.href = url;
      a.className = 'cite';
      a.textContent = part;
      a.title = source.title || url;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      return a;
    }));
  }
}
