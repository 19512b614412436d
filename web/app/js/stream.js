// Chat replies: POST with a streamed answer (server-sent events read with fetch), and
// resuming after a drop with `Last-Event-ID`, from the id of the last event seen.
import { request } from './api.js';

const MAX_RESUMES = 5;

// Parses an SSE byte stream into {id, event, data} objects.
async function* events(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const ev = { id: null, event: 'message', data: '' };
      for (const line of block.split('\n')) {
        const colon = line.indexOf(':');
        if (colon === 0) continue;
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') ev.data += (ev.data ? '\n' : '') + val;
        else if (field === 'id') ev.id = val;
        else if (field === 'event') ev.event = val;
      }
      yield ev;
    }
  }
}

// Follows one reply to its end. `start` opens the first response (a send, a regenerate
// or a resume); after a network drop the reply is resumed from the last event seen.
// `on(event, data)` gets every event; resolves with the final status. `messageId`
// names the reply when it is known before its first event (following a reply).
export async function follow(sessionId, start, on, { signal, messageId = null } = {}) {
  let lastId = null;
  let resp = await start(signal);
  for (let attempt = 0; ; attempt++) {
    try {
      if (!resp) throw new Error('no connection');
      for await (const ev of events(resp.body)) {
        if (ev.id !== null) lastId = ev.id;
        const data = ev.data ? JSON.parse(ev.data) : {};
        if (ev.event === 'message_start') messageId = data.message_id;
        on(ev.event, data);
        if (ev.event === 'message_end') return data.status;
        if (ev.event === 'error') return 'failed';
      }
    } catch (e) {
      if (signal?.aborted) throw e;
    }
    if (!messageId || attempt >= MAX_RESUMES) return 'interrupted';
    on('reconnecting', { attempt: attempt + 1 });
    await pause(Math.min(4000, 250 * 2 ** attempt));
    resp = await resume(sessionId, messageId, lastId, signal).catch(() => null);
  }
}

function pause(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

export function resume(sessionId, messageId, lastId, signal) {
  const headers = lastId === null ? {} : { 'Last-Event-ID': lastId };
  return request('GET', `/chat/sessions/${sessionId}/messages/${messageId}/stream`, undefined, { signal, headers });
}

export function send(sessionId, body) {
  return (signal) => request('POST', `/chat/sessions/${sessionId}/messages`, body, { signal });
}

export function research(sessionId, body) {
  return (signal) => request('POST', `/chat/sessions/${sessionId}/research`, body, { signal });
}

export function regenerate(sessionId, userMessageId, body) {
  return (signal) => request('POST', `/chat/sessions/${sessionId}/messages/${userMessageId}/regenerate`, body, { signal });
}

export function cancel(sessionId, messageId) {
  return request('POST', `/chat/sessions/${sessionId}/messages/${messageId}/cancel`);
}
