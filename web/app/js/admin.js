// The admin console: users, usage charts, the audit log, model routing, provider health.
import { html, Link, Field, ErrorText, useAction, useLoad, formatDate, CopyButton } from './ui.js';
import { useState, useEffect, useRef } from '../vendor/preact-hooks.js';
import { api, get, query } from './api.js';

const TABS = [['users', 'Users'], ['usage', 'Usage'], ['audit', 'Audit log'], ['models', 'Models'], ['providers', 'Providers']];

export function AdminPage({ tab, user }) {
  const Page = { users: Users, usage: Usage, audit: Audit, models: Models, providers: Providers }[tab] || Users;
  return html`<div class="admin">
    <h1>Admin</h1>
    <nav class="tabs" aria-label="Admin sections">
      ${TABS.map(([id, label]) => html`<${Link} href=${`/console/${id}`} class=${tab === id ? 'active' : ''}
        aria-current=${tab === id ? 'page' : undefined}>${label}<//>`)}
    </nav>
    <${Page} me=${user} />
  </div>`;
}

function Users({ me }) {
  const [search, setSearch] = useState('');
  const [term, setTerm] = useState('');
  const users = useLoad(() => get(`/admin/users${query({ query: term, limit: 50 })}`), [term]);
  return html`<section>
    <form class="row" role="search" onSubmit=${(e) => { e.preventDefault(); setTerm(search.trim()); }}>
      <${Field} label="Search users" type="search" value=${search} onInput=${setSearch} />
      <button type="submit">Search</button></form>
    <${ErrorText} error=${users.error} />
    <div class="table-wrap"><table>
      <thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Status</th>
        <th scope="col">Quota</th><th scope="col">Actions</th></tr></thead>
      <tbody>${users.data?.items.map((u) => html`<${UserRow} key=${u.id} user=${u} self=${u.id === me.id} onChanged=${users.reload} />`)}</tbody>
    </table></div>
  </section>`;
}

function UserRow({ user, self, onChanged }) {
  const [rpm, setRpm] = useState(user.quota?.requests_per_minute ?? '');
  const [tpd, setTpd] = useState(user.quota?.tokens_per_day ?? '');
  const [link, setLink] = useState(null);
  const [saved, setSaved] = useState(false);
  const [patch, busy, error] = useAction(async (body) => {
    setSaved(false);
    await api('PATCH', `/admin/users/${user.id}`, body);
    setSaved(true);
    onChanged();
  });
  const [reset, , resetError] = useAction(async () => {
    setLink((await api('POST', `/admin/users/${user.id}/password-reset`)).url);
  });
  const number = (v) => (v === '' || v === null ? undefined : Number(v));
  const saveQuota = (e) => {
    e.preventDefault();
    patch({ quota: { requests_per_minute: number(rpm), tokens_per_day: number(tpd) } });
  };
  return html`<tr>
    <th scope="row">${user.email}${self ? ' (you)' : ''}<div class="muted">${user.name || ''}</div></th>
    <td><label class="visually-hidden" for=${`role-${user.id}`}>Role of ${user.email}</label>
      <select id=${`role-${user.id}`} value=${user.role} disabled=${self || busy} onChange=${(e) => patch({ role: e.currentTarget.value })}>
        <option value="user">user</option><option value="admin">admin</option></select></td>
    <td>${user.disabled ? html`<span class="badge danger">disabled</span>` : 'active'}</td>
    <td><form class="quota" onSubmit=${saveQuota}>
      <label>Requests/min <input type="number" min="1" value=${rpm} onInput=${(e) => setRpm(e.currentTarget.value)} /></label>
      <label>Tokens/day <input type="number" min="1" value=${tpd} onInput=${(e) => setTpd(e.currentTarget.value)} /></label>
      <button type="submit" class="small" aria-label=${`Save quota of ${user.email}`}>Save</button>
      ${saved && html`<span class="ok" role="status">Saved</span>`}</form></td>
    <td><div class="actions">
      ${!self && html`<button type="button" class="small" onClick=${() => patch({ disabled: !user.disabled })}
        aria-label=${`${user.disabled ? 'Enable' : 'Disable'} ${user.email}`}>${user.disabled ? 'Enable' : 'Disable'}</button>`}
      <button type="button" class="small" onClick=${reset} aria-label=${`Reset link for ${user.email}`}>Reset link</button>
      ${link && html`<div class="reset-link"><input readonly value=${link} aria-label="Password reset link" /><${CopyButton} text=${link} /></div>`}
      <${ErrorText} error=${error || resetError} /></div></td>
  </tr>`;
}

// The report's default range: today and the 30 days before it (UTC), oldest first.
const USAGE_DAYS = 31;
function lastDays(count) {
  const now = new Date();
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Array.from({ length: count }, (_, i) => new Date(today - (count - 1 - i) * 86400000).toISOString().slice(0, 10));
}

function useStylesheet(href) {
  if (document.querySelector(`link[href="${href}"]`)) return;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = href;
  document.head.append(link);
}

// Tokens per day, one line per model, drawn with uPlot (loaded only on this page).
function Usage() {
  const usage = useLoad(() => get('/admin/usage'), []);
  const chart = useRef(null);
  const items = usage.data?.items || [];
  useEffect(() => {
    if (!items.length || !chart.current) return undefined;
    let plot;
    let live = true;
    useStylesheet(new URL('../vendor/uplot.css', import.meta.url).href);
    import('../vendor/uplot.js').then(({ default: UPlot }) => {
      if (!live) return;
      const days = lastDays(USAGE_DAYS);
      const models = [...new Set(items.map((r) => r.model))].sort();
      const tokens = (day, model) => items.filter((r) => r.day === day && r.model === model)
        .reduce((sum, r) => sum + r.input_tokens + r.output_tokens, 0);
      const data = [days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000), ...models.map((m) => days.map((d) => tokens(d, m)))];
      const colours = ['#4f46e5', '#16a34a', '#ea580c', '#db2777', '#0891b2', '#ca8a04'];
      const width = Math.min(chart.current.clientWidth || 600, 900);
      plot = new UPlot({
        width, height: 280,
        series: [{}, ...models.map((m, i) => ({ label: m, stroke: colours[i % colours.length], width: 2, points: { show: true } }))],
        axes: [{ stroke: 'currentColor' }, { stroke: 'currentColor', label: 'tokens' }],
      }, data, chart.current);
    });
    return () => { live = false; plot?.destroy(); };
  }, [usage.data]);
  const totals = {};
  for (const r of items) {
    const t = (totals[r.model] ||= { requests: 0, input: 0, output: 0 });
    t.requests += r.requests;
    t.input += r.input_tokens;
    t.output += r.output_tokens;
  }
  return html`<section>
    <h2>Tokens per day and model (last 30 days)</h2>
    <${ErrorText} error=${usage.error} />
    ${usage.data && !items.length && html`<p class="muted">No usage yet.</p>`}
    <div class="chart" ref=${chart} role="img" aria-label="Tokens per day for each model"></div>
    <div class="table-wrap"><table><thead><tr><th scope="col">Model</th><th scope="col">Requests</th>
      <th scope="col">Input tokens</th><th scope="col">Output tokens</th></tr></thead>
      <tbody>${Object.entries(totals).map(([m, t]) => html`<tr><th scope="row">${m}</th><td>${t.requests}</td><td>${t.input}</td><td>${t.output}</td></tr>`)}</tbody>
    </table></div>
  </section>`;
}

function Audit() {
  const [filters, setFilters] = useState({ action: '', user_id: '' });
  const [applied, setApplied] = useState(filters);
  const [pages, setPages] = useState([]);
  const log = useLoad(() => get(`/admin/audit${query({ ...applied, limit: 50 })}`), [applied]);
  useEffect(() => setPages(log.data ? [log.data] : []), [log.data]);
  const more = async () => {
    const last = pages[pages.length - 1];
    setPages([...pages, await get(`/admin/audit${query({ ...applied, limit: 50, cursor: last.next_cursor })}`)]);
  };
  const set = (k) => (v) => setFilters({ ...filters, [k]: v });
  const items = pages.flatMap((p) => p.items);
  return html`<section>
    <form class="row filters" onSubmit=${(e) => { e.preventDefault(); setApplied({ ...filters }); }}>
      <${Field} label="Action" value=${filters.action} onInput=${set('action')} placeholder="auth.login" />
      <${Field} label="User id" value=${filters.user_id} onInput=${set('user_id')} />
      <button type="submit">Filter</button></form>
    <${ErrorText} error=${log.error} />
    <div class="table-wrap"><table><thead><tr><th scope="col">Time</th><th scope="col">Action</th>
      <th scope="col">User</th><th scope="col">Actor</th><th scope="col">Detail</th></tr></thead>
      <tbody>${items.map((a) => html`<tr><td>${formatDate(a.created_at)}</td><td><code>${a.action}</code></td>
        <td>${a.user_id || ''}</td><td>${a.actor_id || ''}</td><td><code class="detail">${JSON.stringify(a.detail ?? {})}</code></td></tr>`)}</tbody>
    </table></div>
    ${pages[pages.length - 1]?.next_cursor && html`<button type="button" onClick=${more}>Older entries</button>`}
  </section>`;
}

function Models() {
  const config = useLoad(() => get('/admin/models'), []);
  const [text, setText] = useState('');
  const [saved, setSaved] = useState(false);
  useEffect(() => { if (config.data) setText(JSON.stringify(config.data, null, 2)); }, [config.data]);
  const [save, busy, error, setError] = useAction(async () => {
    setSaved(false);
    let body;
    try {
      body = JSON.parse(text);
    } catch (e) {
      throw new Error(`Not valid JSON: ${e.message}`);
    }
    setText(JSON.stringify(await api('PUT', '/admin/models', body), null, 2));
    setSaved(true);
  });
  return html`<section>
    <p class="muted">The model routing: targets, fallbacks and limits per model. The server checks it before saving.</p>
    <${ErrorText} error=${config.error} />
    <form onSubmit=${(e) => { e.preventDefault(); save(); }}>
      <label class="field"><span>Routing (JSON)</span>
        <textarea class="code-editor" rows="20" spellcheck="false" value=${text}
          onInput=${(e) => { setText(e.currentTarget.value); setError(null); setSaved(false); }} /></label>
      <${ErrorText} error=${error} />
      ${saved && html`<p class="ok" role="status">Saved.</p>`}
      <button type="submit" class="primary" disabled=${busy}>Save routing</button></form>
  </section>`;
}

function Providers() {
  const health = useLoad(() => get('/admin/providers/health'), []);
  const items = health.data?.items || [];
  const columns = [...new Set(items.flatMap((i) => Object.keys(i)))];
  const cell = (v) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v ?? ''));
  return html`<section>
    <p class="muted">As seen by the instance that answered: circuits are kept per instance.</p>
    <${ErrorText} error=${health.error} />
    ${health.data && !items.length && html`<p class="muted">No provider targets configured.</p>`}
    ${items.length > 0 && html`<div class="table-wrap"><table><thead><tr>${columns.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
      <tbody>${items.map((i) => html`<tr>${columns.map((c) => html`<td>${cell(i[c])}</td>`)}</tr>`)}</tbody></table></div>`}
  </section>`;
}
