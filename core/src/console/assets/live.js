// The console's live updates: `/api/v1/stream` read with fetch (it sends
// the Authorization header EventSource cannot), parsed and handed to the
// view on screen and to whoever listens.

import { api, ctx, refreshTokens, signOut, sleep, t, toast } from './lib.js';
import { renderPresence, renderUnread } from './app.js';

// ---------------------------------------------------------------- live

let stream = null;
export const liveListeners = new Set();

export function stopStream() {
  stream?.abort();
  stream = null;
}

export async function startStream() {
  stopStream();
  const control = new AbortController();
  stream = control;
  let connectedBefore = false;
  while (!control.signal.aborted && ctx.session) {
    try {
      if (ctx.session.expires - Date.now() < 30_000) await refreshTokens();
      const res = await fetch('/api/v1/stream', {
        headers: { Authorization: `Bearer ${ctx.session.access}` },
        signal: control.signal,
      });
      if (res.status === 401) {
        if (!(await refreshTokens())) return signOut();
        continue;
      }
      if (!res.ok || !res.body) throw new Error(`stream ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = parseFrame(frame);
          if (!event) continue;
          if (event.kind === 'ready') {
            setLive(true);
            // Whatever happened while disconnected: read it again.
            if (connectedBefore) emit({ kind: 'resync' });
            connectedBefore = true;
          } else emit(event);
        }
      }
    } catch {
      if (control.signal.aborted) return;
    }
    setLive(false);
    await sleep(2000);
  }
}

export function parseFrame(frame) {
  let kind = '';
  let data = '';
  for (const line of frame.split('\n')) {
    if (line.startsWith('event: ')) kind = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (!kind) return null;
  try {
    return { ...JSON.parse(data), kind };
  } catch {
    return { kind };
  }
}

export function emit(event) {
  if (event.kind === 'notification') notifyUser(event);
  if (event.kind === 'presence.changed' && event.data?.user_id === ctx.me?.id) renderPresence(event.data.presence);
  for (const listener of liveListeners) listener(event);
  ctx.current?.onEvent?.(event);
}

export function setLive(on) {
  const badge = document.getElementById('live');
  if (!badge) return;
  badge.textContent = on ? t('live.on') : t('live.off');
  badge.className = on ? 'live on' : 'live off';
}

export function notifyUser(event) {
  ctx.unread += 1;
  renderUnread();
  const text = event.data?.text || '';
  toast(text, 'info');
  if ('Notification' in window && Notification.permission === 'granted' && document.hidden) {
    const note = new Notification('Ventanilla', { body: text, tag: event.case_id || undefined });
    note.onclick = () => {
      window.focus();
      if (event.case_id) location.hash = `#/cases/${event.case_id}`;
    };
  }
}
