// The chat page: sessions in a sidebar, the conversation's current branch, the composer.
import { html, navigate, Link, ErrorText, useLoad, CopyButton } from './ui.js';
import { useState, useEffect, useRef, useMemo } from '../vendor/preact-hooks.js';
import { api, get, all, query } from './api.js';
import { follow, send, research, regenerate, cancel, resume } from './stream.js';
import { Markdown } from './markdown.js';
import { upload, FileChips, MessageFiles, Clip, MAX_FILES } from './attachments.js';
import { useCapabilities, ResearchProgress, Sources, DEPTHS } from './research.js';
import { buildTree, pathTo, siblingsOf, newestLeaf } from './tree.js';

export function ChatPage({ sessionId, user }) {
  const [navOpen, setNavOpen] = useState(false);
  const [listVersion, setListVersion] = useState(0);
  const refreshList = () => setListVersion((v) => v + 1);
  return html`<div class=${`chat-layout ${navOpen ? 'nav-open' : ''}`}>
    <${Sidebar} sessionId=${sessionId} version=${listVersion} onChanged=${refreshList}
      onPick=${() => setNavOpen(false)} user=${user} />
    ${navOpen && html`<button type="button" class="backdrop" aria-label="Close conversations" onClick=${() => setNavOpen(false)} />`}
    <main class="conversation" id="main">
      <div class="conversation-bar">
        <button type="button" class="ghost nav-toggle" aria-label="Conversations" aria-expanded=${navOpen}
          onClick=${() => setNavOpen(!navOpen)}>☰</button>
        <${ModelPicker} />
        ${sessionId && html`<${SessionActions} sessionId=${sessionId} />`}
      </div>
      <${Conversation} key=${sessionId || 'new'} sessionId=${sessionId} onTurn=${refreshList} />
    </main>
  </div>`;
}

function Sidebar({ sessionId, version, onChanged, onPick, user }) {
  const [search, setSearch] = useState('');
  const [debounced, setDebounced] = useState('');
  useEffect(() => {
    const t = setTimeout(() => setDebounced(search.trim()), 250);
    return () => clearTimeout(t);
  }, [search]);
  const list = useLoad(() => get(`/sessions${query({ query: debounced, limit: 50 })}`), [debounced, version]);
  return html`<nav class="sidebar" aria-label="Conversations">
    <button type="button" class="primary new-chat" onClick=${() => { onPick(); navigate('/'); }}>+ New chat</button>
    <label class="field search"><span class="visually-hidden">Search conversations</span>
      <input type="search" placeholder="Search" value=${search} onInput=${(e) => setSearch(e.currentTarget.value)} /></label>
    <${ErrorText} error=${list.error} />
    <ul class="session-list">
      ${list.data?.items.map((s) => html`<${SessionItem} key=${s.id} session=${s} active=${s.id === sessionId}
        onChanged=${onChanged} onPick=${onPick} />`)}
    </ul>
    ${list.data && list.data.items.length === 0 && html`<p class="muted">${debounced ? 'Nothing found.' : 'No conversations yet.'}</p>`}
    <div class="sidebar-foot">
      <${Link} href="/settings">Settings<//>
      ${user.role === 'admin' && html`<${Link} href="/console/users">Admin<//>`}
    </div>
  </nav>`;
}

function SessionItem({ session, active, onChanged, onPick }) {
  const [renaming, setRenaming] = useState(false);
  const [title, setTitle] = useState(session.title);
  const [error, setError] = useState(null);
  const change = async (fn) => {
    try {
      setError(null);
      await fn();
      onChanged();
    } catch (e) {
      setError(e);
    }
  };
  const rename = (e) => {
    e.preventDefault();
    change(async () => {
      await api('PATCH', `/sessions/${session.id}`, { title });
      setRenaming(false);
    });
  };
  const remove = () => change(async () => {
    if (!confirm(`Delete “${session.title}”?`)) return;
    await api('DELETE', `/sessions/${session.id}`);
    if (active) navigate('/');
  });
  const archive = () => change(async () => {
    await api('PATCH', `/sessions/${session.id}`, { archived: true });
    if (active) navigate('/');
  });
  if (renaming) {
    return html`<li><form class="rename" onSubmit=${rename}>
      <label class="visually-hidden" for=${`rename-${session.id}`}>New title</label>
      <input id=${`rename-${session.id}`} value=${title} onInput=${(e) => setTitle(e.currentTarget.value)} autofocus />
      <button type="submit" class="small">Save</button>
      <button type="button" class="small" onClick=${() => setRenaming(false)}>Cancel</button></form>
      <${ErrorText} error=${error} /></li>`;
  }
  return html`<li class=${active ? 'active' : ''}>
    <${Link} href=${`/c/${session.id}`} onClick=${onPick} aria-current=${active ? 'page' : undefined}>
      <span class="title">${session.title || 'New chat'}</span>
      ${session.snippet && html`<span class="snippet">${session.snippet}</span>`}
    <//>
    <details class="menu"><summary aria-label=${`Actions for ${session.title}`}>⋯</summary>
      <div class="menu-items">
        <button type="button" onClick=${() => setRenaming(true)}>Rename</button>
        <button type="button" onClick=${archive}>Archive</button>
        <button type="button" class="danger" onClick=${remove}>Delete</button>
      </div></details>
    <${ErrorText} error=${error} />
  </li>`;
}

// The model for new turns, shared by the picker and the composer.
let chosenModel = localStorage.getItem('confab-model') || '';

function ModelPicker() {
  const models = useLoad(() => get('/v1/models'), []);
  const [model, setModel] = useState(chosenModel);
  const pick = (value) => {
    chosenModel = value;
    localStorage.setItem('confab-model', value);
    setModel(value);
  };
  const names = models.data?.data.map((m) => m.id) || [];
  return html`<label class="model-picker"><span class="visually-hidden">Model</span>
    <select value=${model} onChange=${(e) => pick(e.currentTarget.value)}>
      <option value="">Default model</option>
      ${names.map((n) => html`<option value=${n}>${n}</option>`)}
    </select></label>`;
}

function SessionActions({ sessionId }) {
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const act = async (fn) => {
    setError(null);
    try { setResult(await fn()); } catch (e) { setError(e); }
  };
  const exportAs = (format) => act(async () => {
    const { url } = await api('POST', `/sessions/${sessionId}/export`, { format });
    return { kind: 'export', url, format };
  });
  const share = () => act(async () => {
    const { token } = await api('POST', `/sessions/${sessionId}/share`);
    return { kind: 'share', url: `${location.origin}/share/${token}` };
  });
  return html`<div class="session-actions">
    <details class="menu"><summary>Export</summary><div class="menu-items">
      <button type="button" onClick=${() => exportAs('markdown')}>Markdown</button>
      <button type="button" onClick=${() => exportAs('json')}>JSON</button></div></details>
    <button type="button" onClick=${share}>Share</button>
    ${result && html`<div class="popover" role="status">
      ${result.kind === 'export'
        ? html`<a href=${result.url} download>Download the ${result.format} export</a>`
        : html`<span>Anyone with this link can read the conversation:</span>
           <input readonly value=${result.url} aria-label="Share link" onFocus=${(e) => e.currentTarget.select()} />
           <${CopyButton} text=${result.url} label="Copy link" />`}
      <button type="button" class="small" onClick=${() => setResult(null)} aria-label="Close">✕</button></div>`}
    <${ErrorText} error=${error} />
  </div>`;
}

// The conversation loaded last: shown at once when its page is opened again (a new
// chat becomes its own page after its first turn), while it loads afresh.
let lastLoaded = null;

async function loadConversation(sessionId) {
  const [session, messages] = await Promise.all([get(`/sessions/${sessionId}`), all(`/sessions/${sessionId}/messages`)]);
  lastLoaded = { session, messages };
  return lastLoaded;
}

function Conversation({ sessionId, onTurn }) {
  const [data, setData] = useState(() => (sessionId && lastLoaded?.session.id === sessionId ? lastLoaded : null));
  const [error, setError] = useState(null);
  // The reply streaming now: {messageId, userMessageId, text, status, question, parentId,
  // attachments, plan, steps, sources}.
  const [live, setLive] = useState(null);
  const abort = useRef(null);
  const scroller = useRef(null);
  // A new chat gets its session at its first file or message.
  const ownId = useRef(sessionId || null);
  const creating = useRef(null);

  const ensureSession = () => {
    if (ownId.current) return Promise.resolve(ownId.current);
    creating.current ??= api('POST', '/sessions', chosenModel ? { model: chosenModel } : {})
      .then(({ id }) => {
        ownId.current = id;
        history.replaceState(null, '', `/c/${id}`);
        onTurn();
        return id;
      })
      .finally(() => { creating.current = null; });
    return creating.current;
  };

  const reload = async () => {
    if (!ownId.current) return null;
    const loaded = await loadConversation(ownId.current);
    setData(loaded);
    return loaded;
  };

  useEffect(() => {
    reload()
      .then((loaded) => {
        const streaming = loaded && pathOf(loaded).find((m) => m.status === 'streaming');
        if (streaming) followExisting(streaming);
      })
      .catch(setError);
    return () => abort.current?.abort();
  }, [sessionId]);

  useEffect(() => {
    const el = scroller.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [data, live?.text]);

  const run = async (id, start, base) => {
    const controller = new AbortController();
    abort.current = controller;
    setLive({ text: '', status: 'streaming', sessionId: id, plan: null, steps: [], sources: [], ...base });
    let messageId = base.messageId;
    const on = (event, d) => {
      if (event === 'message_start') {
        messageId = d.message_id;
        setLive((l) => ({ ...l, messageId, userMessageId: d.user_message_id }));
      } else if (event === 'delta') setLive((l) => ({ ...l, text: l.text + d.text, reconnecting: false }));
      else if (event === 'plan') setLive((l) => ({ ...l, plan: d.questions, reconnecting: false }));
      else if (event === 'step') setLive((l) => ({ ...l, steps: [...l.steps, d], reconnecting: false }));
      else if (event === 'source') setLive((l) => ({ ...l, sources: [...l.sources, d], reconnecting: false }));
      else if (event === 'reconnecting') setLive((l) => ({ ...l, reconnecting: true }));
      else if (event === 'error') setError(new Error(d.message || d.code));
    };
    try {
      await follow(id, start, on, { signal: controller.signal, messageId: base.messageId });
    } catch (e) {
      if (!controller.signal.aborted) setError(e);
    }
    if (controller.signal.aborted) return;
    // The stream ends just before the reply is saved: read again until it is.
    for (let tries = 0; tries < 20; tries++) {
      const loaded = await reload().catch(setError);
      if (!loaded?.messages.some((m) => m.id === messageId && m.status === 'streaming')) break;
      await new Promise((r) => setTimeout(r, 150));
    }
    setLive(null);
    onTurn();
  };

  const followExisting = (message) => {
    run(sessionId, (signal) => resume(sessionId, message.id, null, signal), { messageId: message.id, following: true });
  };

  // Sends a message (or a research question, with its depth); resolves to whether the
  // server took it, so the composer keeps what was refused.
  const ask = async (content, parentId, { attachments = [], depth = null } = {}) => {
    setError(null);
    let id;
    try {
      id = await ensureSession();
    } catch (e) {
      setError(e);
      return false;
    }
    const model = chosenModel ? { model: chosenModel } : {};
    const body = depth ? { question: content, depth, ...model } : { content, ...model };
    if (attachments.length) body.attachments = attachments.map((a) => a.id);
    if (parentId !== undefined) body.parent_id = parentId;
    let accept;
    const accepted = new Promise((resolve) => { accept = resolve; });
    const start = (signal) => (depth ? research : send)(id, body)(signal).then((resp) => {
      accept(true);
      return resp;
    });
    run(id, start, { question: content, parentId, attachments, research: !!depth }).then(async () => {
      accept(false);
      if ((await accepted) && id !== sessionId) navigate(`/c/${id}`, { replace: true });
    });
    return accepted;
  };

  const regen = (userMessageId) => {
    setError(null);
    run(sessionId, regenerate(sessionId, userMessageId, chosenModel ? { model: chosenModel } : {}), { userMessageId, regenerating: true });
  };

  const stop = async () => {
    if (!live?.messageId) return;
    try { await cancel(live.sessionId, live.messageId); } catch (e) { setError(e); }
  };

  const switchTo = async (messageId) => {
    try {
      await api('PATCH', `/sessions/${sessionId}`, { current_leaf_id: newestLeaf(tree, messageId) });
      await reload();
    } catch (e) {
      setError(e);
    }
  };

  const tree = useMemo(() => data && buildTree(data.messages), [data]);
  const path = tree ? pathTo(tree, data.session.current_leaf_id) : [];
  const shown = live ? trimForLive(path, live) : path;
  return html`<div class="messages" ref=${scroller} aria-live="polite" aria-busy=${!!live}>
      ${!sessionId && !live && html`<div class="empty"><h1>What can I help with?</h1></div>`}
      <ol class="turns">
        ${shown.map((m) => html`<${Turn} key=${m.id} message=${m} tree=${tree} busy=${!!live} sessionId=${ownId.current}
          onEdit=${(text) => ask(text, m.parent_id ?? null, { attachments: m.attachments || [] })}
          onRegenerate=${() => regen(m.role === 'user' ? m.id : m.parent_id)}
          onSwitch=${switchTo} />`)}
        ${live && live.question && html`<li class="turn user"><div class="bubble">${live.question}</div>
          <${MessageFiles} sessionId=${live.sessionId} files=${live.attachments} /></li>`}
        ${live && html`<li class="turn assistant">
          ${(live.research || live.plan || live.steps.length > 0) && html`<${ResearchProgress} plan=${live.plan} steps=${live.steps} />`}
          <${Markdown} text=${live.text} sources=${live.sources} />
          ${!live.text && html`<p class="muted typing">${live.following ? 'Following the reply…' : live.research ? 'Researching…' : 'Thinking…'}</p>`}
          ${live.sources.length > 0 && html`<${Sources} sources=${live.sources} />`}
          ${live.reconnecting && html`<p class="muted" role="status">Connection lost, resuming…</p>`}
        </li>`}
      </ol>
    </div>
    <${ErrorText} error=${error} />
    <${Composer} busy=${!!live} onSend=${(text, options) => ask(text, undefined, options)} onStop=${stop}
      ensureSession=${ensureSession} />`;
}

function pathOf({ session, messages }) {
  return pathTo(buildTree(messages), session.current_leaf_id);
}

// While a new turn streams, the branch shown ends where the new turn attaches.
function trimForLive(path, live) {
  if (live.following) return path.filter((m) => m.id !== live.messageId);
  if (live.regenerating) {
    const i = path.findIndex((m) => m.id === live.userMessageId);
    return i >= 0 ? path.slice(0, i + 1) : path;
  }
  if (live.parentId === undefined) return path;
  if (live.parentId === null) return [];
  const i = path.findIndex((m) => m.id === live.parentId);
  return i >= 0 ? path.slice(0, i + 1) : path;
}

function Turn({ message, tree, busy, sessionId, onEdit, onRegenerate, onSwitch }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(message.content);
  const siblings = siblingsOf(tree, message);
  const index = siblings.findIndex((s) => s.id === message.id);
  const nav = siblings.length > 1 && html`<span class="branch-nav" role="group" aria-label="Versions">
    <button type="button" class="small ghost" aria-label="Previous version" disabled=${busy || index === 0}
      onClick=${() => onSwitch(siblings[index - 1].id)}>‹</button>
    <span class="branch-count">${index + 1}/${siblings.length}</span>
    <button type="button" class="small ghost" aria-label="Next version" disabled=${busy || index === siblings.length - 1}
      onClick=${() => onSwitch(siblings[index + 1].id)}>›</button></span>`;
  if (message.role === 'user') {
    if (editing) {
      const submit = (e) => { e.preventDefault(); setEditing(false); onEdit(draft); };
      return html`<li class="turn user"><form class="edit" onSubmit=${submit}>
        <label class="visually-hidden" for=${`edit-${message.id}`}>Edit your message</label>
        <textarea id=${`edit-${message.id}`} value=${draft} onInput=${(e) => setDraft(e.currentTarget.value)} rows="3" />
        <div class="row"><button type="submit" class="primary small">Send</button>
        <button type="button" class="small" onClick=${() => setEditing(false)}>Cancel</button></div></form></li>`;
    }
    return html`<li class="turn user"><div class="bubble">${message.content}</div>
      <${MessageFiles} sessionId=${sessionId} files=${message.attachments} />
      <div class="turn-tools">${nav}
        <button type="button" class="small ghost" disabled=${busy} onClick=${() => { setDraft(message.content); setEditing(true); }}>Edit</button>
      </div></li>`;
  }
  return html`<li class="turn assistant">
    <${Markdown} text=${message.content} sources=${message.sources} />
    ${message.sources?.length > 0 && html`<${Sources} sources=${message.sources} />`}
    ${message.status !== 'complete' && html`<p class="muted status">Reply ${message.status}.</p>`}
    <div class="turn-tools">${nav}
      <${CopyButton} text=${message.content} />
      <button type="button" class="small ghost" disabled=${busy} onClick=${onRegenerate}>Regenerate</button>
      ${message.model && html`<span class="muted model">${message.model}</span>`}
    </div></li>`;
}

// Research is on or off for the page's conversations, at the depth last picked.
const researchChoice = { on: false, depth: 'standard' };
let nextFileKey = 0;

function Composer({ busy, onSend, onStop, ensureSession }) {
  const [text, setText] = useState('');
  const [files, setFiles] = useState([]);
  const [error, setError] = useState(null);
  const [dragging, setDragging] = useState(false);
  const [researching, setResearching] = useState(researchChoice.on);
  const [depth, setDepth] = useState(researchChoice.depth);
  const picker = useRef(null);
  const caps = useCapabilities();
  const researchOn = caps.research && researching;
  const uploading = files.some((f) => !f.attachment);

  const attach = async (list) => {
    if (!list.length) return;
    setError(null);
    if (files.length + list.length > MAX_FILES) {
      setError(new Error(`A message takes at most ${MAX_FILES} files.`));
      return;
    }
    let sessionId;
    try {
      sessionId = await ensureSession();
    } catch (e) {
      setError(e);
      return;
    }
    for (const file of list) {
      const key = nextFileKey++;
      const update = (patch) => setFiles((fs) => fs.map((f) => (f.key === key ? { ...f, ...patch } : f)));
      const job = upload(sessionId, file, (progress) => update({ progress }));
      setFiles((fs) => [...fs, { key, sessionId, name: file.name, size: file.size, progress: 0, abort: job.abort }]);
      job.promise.then((attachment) => update({ attachment }), (e) => {
        setFiles((fs) => fs.filter((f) => f.key !== key));
        if (e.name !== 'AbortError') setError(e);
      });
    }
  };

  // An uploaded file removed before sending is deleted; an upload on its way stops.
  const remove = (file) => {
    setFiles((fs) => fs.filter((f) => f.key !== file.key));
    if (!file.attachment) file.abort();
    else api('DELETE', `/sessions/${file.sessionId}/attachments/${file.attachment.id}`).catch(setError);
  };

  const submit = async () => {
    const content = text.trim();
    if (!content || busy) return;
    if (uploading) {
      setError(new Error('The files are still uploading: send when they are done.'));
      return;
    }
    if (researchOn && files.length) {
      setError(new Error('Research reads the web, not attached files: remove the files or turn research off.'));
      return;
    }
    setError(null);
    const sent = files;
    setText('');
    setFiles([]);
    const attachments = sent.map((f) => f.attachment);
    if (!(await onSend(content, { attachments, depth: researchOn ? depth : null }))) {
      setText((t) => t || content);
      setFiles((fs) => [...sent, ...fs]);
    }
  };
  const keyDown = (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  };
  const paste = (e) => {
    const pasted = [...(e.clipboardData?.files || [])];
    if (pasted.length) {
      e.preventDefault();
      attach(pasted);
    }
  };
  const dragOver = (e) => {
    if (!e.dataTransfer?.types.includes('Files')) return;
    e.preventDefault();
    setDragging(true);
  };
  const drop = (e) => {
    if (!e.dataTransfer?.files.length) return;
    e.preventDefault();
    setDragging(false);
    attach([...e.dataTransfer.files]);
  };
  const toggleResearch = (on) => {
    researchChoice.on = on;
    setResearching(on);
  };
  const pickDepth = (value) => {
    researchChoice.depth = value;
    setDepth(value);
  };
  return html`<form class=${`composer ${dragging ? 'dragging' : ''}`} onSubmit=${(e) => { e.preventDefault(); submit(); }}
    onDragOver=${dragOver} onDragLeave=${() => setDragging(false)} onDrop=${drop}>
    <${FileChips} files=${files} onRemove=${remove} />
    <div class="composer-row">
      <button type="button" class="ghost attach" aria-label="Attach files" title="Attach files (or drop or paste them)"
        onClick=${() => picker.current.click()}><${Clip} /></button>
      <input type="file" multiple hidden ref=${picker}
        onChange=${(e) => { attach([...e.currentTarget.files]); e.currentTarget.value = ''; }} />
      <label class="visually-hidden" for="composer">Message</label>
      <span class="visually-hidden" id="composer-hint">Enter sends, Shift+Enter starts a new line.</span>
      <textarea id="composer" rows="1" placeholder=${researchOn ? 'Ask a question to research on the web' : 'Message confab'}
        aria-describedby="composer-hint" value=${text} onInput=${(e) => setText(e.currentTarget.value)}
        onKeyDown=${keyDown} onPaste=${paste} />
      ${busy
        ? html`<button type="button" class="danger" onClick=${onStop}>Stop</button>`
        : html`<button type="submit" class="primary" disabled=${!text.trim() || uploading}>${researchOn ? 'Research' : 'Send'}</button>`}
    </div>
    ${caps.research && html`<div class="composer-options">
      <label class="switch"><input type="checkbox" role="switch" checked=${researching}
        onChange=${(e) => toggleResearch(e.currentTarget.checked)} /> Research the web</label>
      ${researching && html`<label>Depth <select value=${depth} onChange=${(e) => pickDepth(e.currentTarget.value)}>
        ${DEPTHS.map((d) => html`<option value=${d}>${d}</option>`)}</select></label>`}
    </div>`}
    <${ErrorText} error=${error} />
  </form>`;
}
