// Ventanilla's console for agents, supervisors and admins. One ES module,
// no build step and no third-party code: it is served from the binary and
// must work on a closed network. Everything it shows comes from the REST
// API with the signed-in user's token; live updates come from /api/v1/stream.
// Text from the API is always inserted as text, never as HTML.

const root = document.getElementById('app');
const LOCALES = ['es', 'en', 'pt'];
const OPEN = 'queued,assigned,waiting_on_contact';
const CHANNELS = ['whatsapp', 'messenger', 'instagram', 'telegram', 'email', 'sms', 'webchat', 'webform', 'phone', 'api'];
const PRIORITIES = ['low', 'normal', 'high', 'urgent'];

let dict = {};
let locale = 'es';
let session = readSession();
let me = null;
let units = [];
let users = new Map();
let current = null; // the view on screen: { el, onEvent?, destroy? }
let unread = 0;

// ---------------------------------------------------------------- basics

function t(key, vars = {}) {
  let text = dict[key] ?? key;
  for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'class') el.className = value;
    else if (name === 'value' || name === 'checked' || name === 'selected') el[name] = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function when(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  const today = new Date().toDateString() === date.toDateString();
  return today
    ? date.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleString(locale, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

function userName(id) {
  if (!id) return t('nobody');
  return users.get(id)?.display_name ?? t('someone');
}

function unitName(id) {
  return units.find((u) => u.id === id)?.name ?? '';
}

// ---------------------------------------------------------------- session

function readSession() {
  try {
    return JSON.parse(localStorage.getItem('ventanilla.session')) || null;
  } catch {
    return null;
  }
}

function saveSession(tokens) {
  session = {
    access: tokens.access_token,
    refresh: tokens.refresh_token,
    expires: Date.now() + tokens.expires_in * 1000,
  };
  localStorage.setItem('ventanilla.session', JSON.stringify(session));
}

function signOut() {
  const leaving = session;
  session = null;
  me = null;
  localStorage.removeItem('ventanilla.session');
  stopStream();
  if (leaving) {
    // Leaving is going offline (units that say so requeue one's cases);
    // then the refresh token is revoked.
    fetch('/api/v1/agents/me/presence', {
      method: 'PUT',
      headers: { Authorization: `Bearer ${leaving.access}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ presence: 'offline' }),
    })
      .catch(() => {})
      .finally(() =>
        fetch('/api/v1/auth/logout', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ refresh_token: leaving.refresh }),
        }).catch(() => {}),
      );
  }
  if (location.hash === '#/login') route();
  else location.hash = '#/login';
}

class Problem extends Error {
  constructor(status, body) {
    super(body?.detail || body?.title || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
  // A headline in the person's language (by the problem's stable code),
  // then the server's details, which are in English, marked as such.
  describe() {
    const code = this.body?.code;
    const headline = code && dict[`problem.${code}`] ? t(`problem.${code}`) : t('problem.other', { status: this.status });
    const fields = (this.body?.errors || []).map((e) => (e.field ? `${e.field}: ${e.message}` : e.message));
    let details = fields.length ? fields.join(' · ') : this.body?.detail;
    if (code === 'internal' && this.body?.request_id) details += ` · ${this.body.request_id}`;
    return h('span', null, h('strong', null, headline), details ? h('small', { lang: 'en', class: 'details' }, details) : null);
  }
}

let refreshing = null;

function refreshTokens() {
  if (!session?.refresh) return Promise.resolve(false);
  refreshing ??= (async () => {
    try {
      const res = await fetch('/api/v1/auth/refresh', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ refresh_token: session.refresh }),
      });
      if (!res.ok) return false;
      saveSession(await res.json());
      return true;
    } catch {
      return false;
    } finally {
      setTimeout(() => (refreshing = null), 0);
    }
  })();
  return refreshing;
}

async function api(method, path, body, retry = true) {
  if (session && session.expires - Date.now() < 30_000) await refreshTokens();
  const headers = { Accept: 'application/json' };
  if (session) headers.Authorization = `Bearer ${session.access}`;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(`/api/v1${path}`, { method, headers, body: payload });
  if (res.status === 401 && retry && (await refreshTokens())) return api(method, path, body, false);
  if (res.status === 401 && session) {
    signOut();
    throw new Problem(401, null);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) throw new Problem(res.status, data);
  return data;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : '';
}

// ---------------------------------------------------------------- dialogs

// A modal form: `fields` are [label, control] pairs (controls have ids);
// `onSubmit` resolves true when the dialog may close.
function formDialog(name, title, fields, submitLabel, onSubmit) {
  const close = () => (dialog.close(), dialog.remove());
  const dialog = h(
    'dialog',
    { class: 'dialog', 'aria-labelledby': `${name}-title` },
    h(
      'form',
      {
        method: 'dialog',
        onsubmit: async (e) => {
          e.preventDefault();
          if (await onSubmit()) close();
        },
      },
      h('h2', { id: `${name}-title` }, title),
      fields.flatMap(([label, control]) => [h('label', { for: control.id }, label), control]),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', id: `${name}-go` }, submitLabel),
        h('button', { type: 'button', class: 'ghost', onclick: close }, t('cancel')),
      ),
    ),
  );
  document.body.append(dialog);
  dialog.showModal();
  fields[0]?.[1].focus();
}

// ---------------------------------------------------------------- toasts

function toast(text, kind = 'info') {
  const region = document.getElementById('toasts');
  if (!region) return;
  const item = h('div', { class: `toast ${kind}` }, text);
  region.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
}

async function attempt(fn, done) {
  try {
    const result = await fn();
    if (done) toast(done, 'ok');
    return result;
  } catch (e) {
    if (e instanceof Problem && e.status === 401) return undefined;
    toast(e instanceof Problem ? e.describe() : t('error.network'), 'error');
    return undefined;
  }
}

// ---------------------------------------------------------------- live

let stream = null;
const liveListeners = new Set();

function stopStream() {
  stream?.abort();
  stream = null;
}

async function startStream() {
  stopStream();
  const control = new AbortController();
  stream = control;
  let connectedBefore = false;
  while (!control.signal.aborted && session) {
    try {
      if (session.expires - Date.now() < 30_000) await refreshTokens();
      const res = await fetch('/api/v1/stream', {
        headers: { Authorization: `Bearer ${session.access}` },
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

function parseFrame(frame) {
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

function emit(event) {
  if (event.kind === 'notification') notifyUser(event);
  if (event.kind === 'presence.changed' && event.data?.user_id === me?.id) renderPresence(event.data.presence);
  for (const listener of liveListeners) listener(event);
  current?.onEvent?.(event);
}

function setLive(on) {
  const badge = document.getElementById('live');
  if (!badge) return;
  badge.textContent = on ? t('live.on') : t('live.off');
  badge.className = on ? 'live on' : 'live off';
}

function notifyUser(event) {
  unread += 1;
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

// ---------------------------------------------------------------- start

async function loadLocale(wanted) {
  locale = LOCALES.includes(wanted) ? wanted : 'es';
  const res = await fetch(`/console/i18n/${locale}.json`);
  dict = res.ok ? await res.json() : {};
  document.documentElement.lang = locale;
  document.title = t('title');
}

async function loadContext() {
  me = await api('GET', '/auth/me');
  if (me.locale && me.locale !== locale) await loadLocale(me.locale);
  units = (await api('GET', '/units')).items;
  const team = await api('GET', '/agents').catch(() => ({ items: [] }));
  users = new Map([[me.id, me]]);
  for (const agent of team.items) users.set(agent.user_id, { id: agent.user_id, display_name: agent.display_name });
}

function myUnits() {
  if (me?.is_admin) return units;
  const mine = new Set((me?.memberships || []).map((m) => m.unit_id));
  return units.filter((u) => mine.has(u.id));
}

function supervises(unitId) {
  return me?.is_admin || (me?.memberships || []).some((m) => m.unit_id === unitId && m.role === 'supervisor');
}

// ---------------------------------------------------------------- shell

function shell() {
  const nav = [h('a', { href: '#/inbox/mine' }, t('nav.inbox'))];
  const supervised = units.filter((u) => supervises(u.id));
  if (supervised.length) nav.push(h('a', { href: `#/units/${supervised[0].id}` }, t('nav.unit')));
  if (me.is_admin) nav.push(h('a', { href: '#/admin/plugins' }, t('nav.admin')));
  const presence = h(
    'select',
    { id: 'presence', 'aria-label': t('presence.label'), onchange: (e) => setPresence(e.target.value) },
    ['online', 'away', 'offline'].map((p) => h('option', { value: p }, t(`presence.${p}`))),
  );
  const bell = h(
    'button',
    {
      id: 'bell',
      type: 'button',
      class: 'ghost',
      onclick: () => {
        unread = 0;
        renderUnread();
        if ('Notification' in window && Notification.permission === 'default') Notification.requestPermission();
        location.hash = '#/notifications';
      },
    },
    t('notifications'),
    h('span', { id: 'unread', class: 'count', hidden: true }),
  );
  return h(
    'div',
    { class: 'shell' },
    h('a', { class: 'skip', href: '#main' }, t('skip')),
    h(
      'header',
      { class: 'top' },
      h('strong', { class: 'brand' }, 'Ventanilla'),
      h('nav', { 'aria-label': t('nav.label') }, nav),
      h('span', { id: 'live', class: 'live off', role: 'status' }, t('live.off')),
      presence,
      bell,
      h('span', { class: 'who' }, me.display_name),
      h('button', { type: 'button', class: 'ghost', id: 'sign-out', onclick: signOut }, t('sign_out')),
    ),
    h('main', { id: 'main', tabindex: '-1' }),
    h('div', { id: 'toasts', role: 'status', 'aria-live': 'polite' }),
    h('div', { id: 'help', hidden: true }),
  );
}

function renderUnread() {
  const badge = document.getElementById('unread');
  if (!badge) return;
  badge.hidden = unread === 0;
  badge.textContent = String(unread);
}

async function renderPresence(value) {
  const select = document.getElementById('presence');
  if (select && value) select.value = value;
}

async function setPresence(value) {
  const agent = await attempt(() => api('PUT', '/agents/me/presence', { presence: value }));
  if (agent) renderPresence(agent.presence);
}

// ---------------------------------------------------------------- router

const routes = [
  [/^#\/cases\/([0-9a-f-]+)$/, (m) => caseView(m[1])],
  [/^#\/contacts\/([0-9a-f-]+)$/, (m) => contactView(m[1])],
  [/^#\/units\/([0-9a-f-]+)$/, (m) => unitView(m[1])],
  [/^#\/notifications$/, () => notificationsView()],
  [/^#\/admin\/(\w+)$/, (m) => adminView(m[1])],
  [/^#\/inbox\/([\w-]+)$/, (m) => inboxView(m[1])],
];

let routeSeq = 0;
let booting = null;
let onlineOnBoot = false;

// Reads who is signed in and draws the frame around the views, once.
async function ensureShell() {
  if (me) return true;
  booting ??= (async () => {
    await loadContext();
    root.replaceChildren(shell());
    const agent = await api('GET', '/agents/me').catch(() => null);
    renderPresence(agent?.presence);
    startStream();
    // Signing in is coming to work: take cases unless one says otherwise.
    if (onlineOnBoot) {
      onlineOnBoot = false;
      await setPresence('online');
    }
  })().finally(() => (booting = null));
  try {
    await booting;
    return true;
  } catch {
    if (session) root.replaceChildren(h('p', { class: 'fatal' }, t('error.network')));
    return false;
  }
}

async function route() {
  const seq = ++routeSeq;
  if (!session) {
    current?.destroy?.();
    current = null;
    root.replaceChildren(loginView());
    return;
  }
  if (!(await ensureShell()) || seq !== routeSeq) return;
  const hash = location.hash || '#/inbox/mine';
  const match = routes.map(([re, make]) => [hash.match(re), make]).find(([m]) => m);
  if (!match) {
    location.hash = '#/inbox/mine';
    return;
  }
  const view = await match[1](match[0]);
  // A newer navigation won while this view loaded.
  if (seq !== routeSeq) return;
  current?.destroy?.();
  current = view;
  const main = document.getElementById('main');
  main.replaceChildren(view.el);
  // The first view drawn with its data: the console is usable (benches read this).
  if (!performance.getEntriesByName('ventanilla:interactive').length) performance.mark('ventanilla:interactive');
  for (const link of document.querySelectorAll('.top nav a')) {
    const section = link.getAttribute('href').split('/')[1];
    if (hash.split('/')[1] === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

window.addEventListener('hashchange', route);

// ---------------------------------------------------------------- sign in

function loginView() {
  const error = h('p', { class: 'error', role: 'alert' });
  const email = h('input', { id: 'email', type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', {
    id: 'password',
    type: 'password',
    name: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const form = h(
    'form',
    {
      class: 'login',
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = '';
        try {
          const res = await fetch('/api/v1/auth/login', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ email: email.value, password: password.value }),
          });
          if (!res.ok) {
            error.textContent = res.status === 429 ? t('login.limited') : t('login.failed');
            return;
          }
          saveSession(await res.json());
          me = null;
          onlineOnBoot = true;
          if (location.hash === '#/inbox/mine') route();
          else location.hash = '#/inbox/mine';
        } catch {
          error.textContent = t('error.network');
        }
      },
    },
    h('h1', null, t('login.title')),
    h('label', { for: 'email' }, t('login.email')),
    email,
    h('label', { for: 'password' }, t('login.password')),
    password,
    error,
    h('button', { type: 'submit' }, t('login.submit')),
  );
  return h('main', { class: 'center' }, form);
}

// ---------------------------------------------------------------- inbox

// The views saved on the server (the caller's own, then their units');
// views kept in this browser by earlier versions move there once.
async function savedViews() {
  let local = [];
  try {
    local = JSON.parse(localStorage.getItem('ventanilla.views')) || [];
  } catch {
    local = [];
  }
  for (const old of local) {
    await api('POST', '/saved-views', { name: old.label, filters: old.query }).catch(() => {});
  }
  localStorage.removeItem('ventanilla.views');
  const found = await api('GET', '/saved-views').catch(() => ({ items: [] }));
  return found.items;
}

async function views() {
  const list = [
    { id: 'mine', label: t('view.mine'), query: { assignee_id: 'me', status: 'assigned,waiting_on_contact', snoozed: 'false' } },
    { id: 'unassigned', label: t('view.unassigned'), query: { status: 'queued', snoozed: 'false' } },
    { id: 'risk', label: t('view.risk'), query: { sla: 'warning,breached', status: OPEN } },
    { id: 'snoozed', label: t('view.snoozed'), query: { assignee_id: 'me', snoozed: 'true' } },
    { id: 'bot', label: t('view.bot'), query: { status: 'bot' } },
    { id: 'open', label: t('view.open'), query: { status: OPEN, snoozed: 'false' } },
    { id: 'resolved', label: t('view.resolved'), query: { status: 'resolved' } },
  ];
  for (const unit of myUnits()) {
    list.push({ id: `unit-${unit.id}`, label: t('view.unit', { unit: unit.name }), query: { unit_id: unit.id, status: OPEN, snoozed: 'false' } });
  }
  for (const saved of await savedViews()) {
    const label = saved.unit_id ? t('view.shared', { name: saved.name, unit: unitName(saved.unit_id) }) : saved.name;
    list.push({ id: `saved-${saved.id}`, label, query: saved.filters, saved });
  }
  return list;
}

async function inboxView(viewId) {
  const all = await views();
  const view = all.find((v) => v.id === viewId) || all[0];
  const filters = { channel: '', priority: '', tag: '', text: '' };
  const list = h('ul', { class: 'cases', 'aria-label': view.label });
  const count = h('span', { class: 'muted', 'aria-live': 'polite' });
  const selected = new Set();
  const fresh = new Set();

  const filterBar = h(
    'form',
    { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() },
    labelled(t('filter.text'), h('input', { type: 'search', oninput: (e) => set('text', e.target.value) })),
    labelled(t('filter.channel'), select(['', ...CHANNELS], (c) => (c ? t(`channel.${c}`) : t('any')), (v) => set('channel', v))),
    labelled(t('filter.priority'), select(['', ...PRIORITIES], (p) => (p ? t(`priority.${p}`) : t('any')), (v) => set('priority', v))),
    labelled(t('filter.tag'), h('input', { type: 'text', oninput: (e) => set('tag', e.target.value.trim()) })),
    h('button', { type: 'button', class: 'ghost', id: 'save-view', onclick: saveView }, t('view.save')),
    view.saved && (view.saved.owner_id === me.id || supervises(view.saved.unit_id))
      ? h('button', { type: 'button', class: 'ghost', id: 'remove-view', onclick: removeView }, t('view.remove'))
      : null,
  );

  function set(name, value) {
    filters[name] = value;
    reloadSoon();
  }

  function saveView() {
    const name = h('input', { type: 'text', id: 'view-name', required: true, maxlength: 80 });
    const shared = myUnits().filter((u) => supervises(u.id));
    const share = h(
      'select',
      { id: 'view-share' },
      h('option', { value: '' }, t('view.personal')),
      shared.map((u) => h('option', { value: u.id }, u.name)),
    );
    const fields = [[t('view.save_name'), name]];
    if (shared.length) fields.push([t('view.share'), share]);
    formDialog('view', t('view.save'), fields, t('view.save'), async () => {
      const chosen = Object.fromEntries(Object.entries(filters).filter(([, v]) => v));
      const body = { name: name.value.trim(), filters: { ...view.query, ...chosen } };
      if (share.value) body.unit_id = share.value;
      const saved = await attempt(() => api('POST', '/saved-views', body), t('saved'));
      if (saved) location.hash = `#/inbox/saved-${saved.id}`;
      return Boolean(saved);
    });
  }

  async function removeView() {
    if (!confirm(t('view.remove_confirm', { name: view.saved.name }))) return;
    const gone = await attempt(() => api('DELETE', `/saved-views/${view.saved.id}`), t('saved'));
    if (gone !== undefined) location.hash = '#/inbox/mine';
  }

  function assignDialog() {
    const people = [...users.values()].sort((a, b) => a.display_name.localeCompare(b.display_name));
    const who = h('select', { id: 'assign-to', required: true }, people.map((u) => h('option', { value: u.id }, u.display_name)));
    formDialog('assign', t('bulk.assign'), [[t('bulk.assign_to'), who]], t('bulk.assign'), async () => {
      await each((id) => api('PATCH', `/cases/${id}`, { assignee_id: who.value }));
      return true;
    });
  }

  const bulk = h(
    'div',
    { class: 'bulk', hidden: true },
    h('button', { type: 'button', onclick: () => each((id) => api('POST', `/cases/${id}/claim`)) }, t('bulk.take')),
    h('button', { type: 'button', id: 'bulk-assign', onclick: assignDialog }, t('bulk.assign')),
    h('button', { type: 'button', onclick: () => each((id) => api('PATCH', `/cases/${id}`, { status: 'resolved' })) }, t('bulk.resolve')),
    h(
      'button',
      {
        type: 'button',
        onclick: () => {
          const tag = prompt(t('bulk.tag_name'));
          if (tag) each((id) => api('POST', `/cases/${id}/tags`, { tag }));
        },
      },
      t('bulk.tag'),
    ),
  );

  async function each(action) {
    const ids = [...selected];
    let failed = 0;
    for (const id of ids) {
      try {
        await action(id);
      } catch {
        failed += 1;
      }
    }
    toast(t('bulk.done', { done: ids.length - failed, failed }), failed ? 'error' : 'ok');
    selected.clear();
    reload();
  }

  async function reload() {
    const params = { ...view.query, ...filters, limit: 100 };
    const cases = await attempt(() => api('GET', `/cases${query(params)}`));
    if (!cases) return;
    count.textContent = t('count', { n: cases.items.length });
    list.replaceChildren(...cases.items.map(row));
    if (!cases.items.length) list.append(h('li', { class: 'empty' }, t('empty')));
    bulk.hidden = selected.size === 0;
  }
  const reloadSoon = debounce(reload, 150);

  function row(c) {
    const box = h('input', {
      type: 'checkbox',
      'aria-label': t('select', { n: c.number }),
      checked: selected.has(c.id),
      onchange: (e) => {
        if (e.target.checked) selected.add(c.id);
        else selected.delete(c.id);
        bulk.hidden = selected.size === 0;
      },
    });
    const sla = (c.sla || []).find((s) => s.state === 'breached' || s.state === 'warning');
    return h(
      'li',
      { class: fresh.has(c.id) ? 'case-row fresh' : 'case-row', 'data-case': c.id },
      box,
      h('a', { href: `#/cases/${c.id}`, class: 'subject' }, `#${c.number} · ${c.subject}`),
      h('span', { class: `badge status-${c.status}` }, t(`status.${c.status}`)),
      h('span', { class: 'badge' }, t(`channel.${c.channel}`)),
      c.priority !== 'normal' ? h('span', { class: `badge priority-${c.priority}` }, t(`priority.${c.priority}`)) : null,
      sla ? h('span', { class: `badge sla-${sla.state}` }, t(`sla.${sla.state}`)) : null,
      h('span', { class: 'assignee' }, userName(c.assignee_id)),
      h('time', { datetime: c.updated_at }, when(c.updated_at)),
    );
  }

  const sidebar = h(
    'nav',
    { class: 'views', 'aria-label': t('views') },
    h('ul', null, all.map((v) => h('li', null, h('a', { href: `#/inbox/${v.id}`, 'aria-current': v.id === view.id ? 'page' : null }, v.label)))),
  );
  const el = h(
    'div',
    { class: 'inbox' },
    sidebar,
    h('section', { class: 'list' }, h('h1', null, view.label, ' ', count), filterBar, bulk, list),
  );
  await reload();

  return {
    el,
    onEvent(event) {
      if (event.kind === 'case.created' && event.case_id) fresh.add(event.case_id);
      if (['case.created', 'case.updated', 'case.sla', 'message.created', 'resync'].includes(event.kind)) reloadSoon();
    },
    keys: {
      j: () => moveFocus(list, 1),
      k: () => moveFocus(list, -1),
    },
  };
}

function moveFocus(list, step) {
  const links = [...list.querySelectorAll('a.subject')];
  if (!links.length) return;
  const at = links.indexOf(document.activeElement);
  const next = links[Math.max(0, Math.min(links.length - 1, at + step))];
  next.focus();
}

function labelled(text, control) {
  const id = `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h('span', { class: 'field' }, h('label', { for: id }, text), control);
}

function select(values, label, onChange, chosen) {
  return h(
    'select',
    { onchange: (e) => onChange(e.target.value) },
    values.map((v) => h('option', { value: v, selected: v === chosen }, label(v))),
  );
}

// ---------------------------------------------------------------- case

async function caseView(id) {
  const el = h('div', { class: 'case' });
  let state = null;
  let mode = 'reply';

  async function load() {
    const [c, messages, notes, reply] = await Promise.all([
      api('GET', `/cases/${id}`),
      api('GET', `/cases/${id}/messages?limit=100`),
      api('GET', `/cases/${id}/notes?limit=100`),
      api('GET', `/cases/${id}/reply-options`).catch(() => ({ free_text: true, templates: [] })),
    ]);
    const [contact, history] = await Promise.all([
      api('GET', `/contacts/${c.contact_id}`).catch(() => null),
      api('GET', `/cases${query({ contact_id: c.contact_id, limit: 10 })}`).catch(() => ({ items: [] })),
    ]);
    state = { c, messages: messages.items, notes: notes.items, contact, history: history.items, reply };
    render();
  }

  // The frame is built once; a live update redraws the parts that changed
  // and never the composer, so typing and focus survive it.
  const headBox = h('div');
  const timelineBox = h('ol', { class: 'timeline', 'aria-label': t('case.conversation'), tabindex: 0 });
  const composerBox = h('div');
  const contactBox = h('div');
  const fieldsBox = h('div');
  const suggestionsBox = h('div');
  let drawn = { head: '', timeline: '', contact: '', fields: '', suggest: null };
  let composer = null;

  function render() {
    const { c } = state;
    if (!el.firstChild) {
      el.append(
        h('section', { class: 'work' }, headBox, tagFormNode(), timelineBox, composerBox),
        h('aside', { class: 'side' }, contactBox, fieldsBox, suggestionsBox),
      );
    }
    const head = JSON.stringify(c);
    if (head !== drawn.head) {
      drawn.head = head;
      headBox.replaceChildren(header(c));
    }
    const timeline = [
      ...state.messages.map((m) => ({ at: m.created_at, key: `${m.id}:${m.delivery_status}`, make: () => messageNode(m) })),
      ...state.notes.map((n) => ({ at: n.created_at, key: n.id, make: () => noteNode(n) })),
    ].sort((a, b) => a.at.localeCompare(b.at));
    const keys = timeline.map((x) => x.key).join(',');
    if (keys !== drawn.timeline) {
      drawn.timeline = keys;
      timelineBox.replaceChildren(...timeline.map((x) => x.make()));
      timelineBox.scrollTop = timelineBox.scrollHeight;
    }
    if (!composer) {
      composer = composerNode();
      composerBox.append(composer.form);
    }
    composer.setClosed(c.status === 'closed');
    composer.setReply(state.reply);
    const people = JSON.stringify([state.contact, state.history.map((x) => [x.id, x.status])]);
    if (people !== drawn.contact) {
      drawn.contact = people;
      contactBox.replaceChildren(contactNode());
    }
    const defs = units.find((u) => u.id === c.unit_id)?.custom_fields || [];
    const fieldsKey = JSON.stringify([defs, c.custom_fields]);
    if (fieldsKey !== drawn.fields) {
      drawn.fields = fieldsKey;
      fieldsBox.replaceChildren(defs.length ? fieldsNode(defs, c.custom_fields) : '');
    }
    const lastIn = [...state.messages].reverse().find((m) => m.direction === 'inbound' && m.body.trim());
    if ((lastIn?.id ?? '') !== drawn.suggest) {
      drawn.suggest = lastIn?.id ?? '';
      suggestionsBox.replaceChildren(suggestionsNode(lastIn));
    }
  }

  function header(c) {
    const actions = [];
    if (!c.assignee_id && ['queued', 'bot'].includes(c.status)) {
      actions.push(h('button', { type: 'button', id: 'claim', onclick: claim }, t('case.take')));
    }
    if (['assigned', 'waiting_on_contact', 'queued'].includes(c.status)) {
      actions.push(h('button', { type: 'button', id: 'resolve', onclick: () => patch({ status: 'resolved' }, t('case.resolved')) }, t('case.resolve')));
    }
    if (c.status === 'assigned') {
      actions.push(h('button', { type: 'button', class: 'ghost', onclick: () => patch({ status: 'waiting_on_contact' }) }, t('case.wait')));
    }
    if (c.status === 'resolved') {
      actions.push(h('button', { type: 'button', onclick: () => patch({ status: c.assignee_id ? 'assigned' : 'queued' }) }, t('case.reopen')));
    }
    if (!['resolved', 'closed'].includes(c.status)) {
      actions.push(h('button', { type: 'button', class: 'ghost', id: 'transfer', onclick: transferDialog }, t('case.transfer')));
      actions.push(
        c.snoozed_until
          ? h('button', { type: 'button', class: 'ghost', id: 'unsnooze', onclick: () => patch({ snoozed_until: null }) }, t('case.unsnooze'))
          : h('button', { type: 'button', class: 'ghost', id: 'snooze', onclick: snoozeDialog }, t('case.snooze')),
      );
    }
    const tags = h(
      'ul',
      { class: 'tags', 'aria-label': t('case.tags') },
      c.tags.map((tag) =>
        h(
          'li',
          null,
          tag,
          h('button', { type: 'button', class: 'chip-x', 'aria-label': t('case.untag', { tag }), onclick: () => untag(tag) }, '×'),
        ),
      ),
    );
    const sla = (c.sla || []).map((s) =>
      h('span', { class: `badge sla-${s.state}` }, `${t(`sla.target.${s.name}`)}: ${t(`sla.${s.state}`)}${s.due_at && !s.settled_at ? ` · ${when(s.due_at)}` : ''}`),
    );
    return h(
      'header',
      { class: 'case-head' },
      h('h1', null, `#${c.number} · ${c.subject}`),
      h(
        'p',
        { class: 'meta' },
        h('span', { class: `badge status-${c.status}`, id: 'case-status' }, t(`status.${c.status}`)),
        h('span', { class: 'badge' }, t(`channel.${c.channel}`)),
        h('span', null, unitName(c.unit_id)),
        h('span', { id: 'case-assignee' }, userName(c.assignee_id)),
        c.snoozed_until ? h('span', { class: 'badge', id: 'case-snoozed' }, t('case.snoozed_until', { when: when(c.snoozed_until) })) : null,
        labelled(t('case.priority'), select(PRIORITIES, (p) => t(`priority.${p}`), (v) => patch({ priority: v }), c.priority)),
        sla,
      ),
      h('div', { class: 'actions' }, actions),
      tags,
    );
  }

  // Built once, like the composer: a live redraw of the header never
  // takes a tag someone is typing.
  function tagFormNode() {
    const tagInput = h('input', { type: 'text', id: 'tag-input', placeholder: t('case.tag_placeholder') });
    return h(
      'form',
      {
        class: 'tag-form',
        onsubmit: async (e) => {
          e.preventDefault();
          const tag = tagInput.value.trim();
          if (tag && (await attempt(() => api('POST', `/cases/${id}/tags`, { tag })))) {
            tagInput.value = '';
            await load();
          }
        },
      },
      h('label', { for: 'tag-input', class: 'sr-only' }, t('case.add_tag')),
      tagInput,
      h('button', { type: 'submit', class: 'ghost' }, t('case.add_tag')),
    );
  }

  function messageNode(m) {
    const who =
      m.author_kind === 'agent'
        ? userName(m.author_user_id)
        : m.author_kind === 'contact'
          ? state.contact?.name || t('author.contact')
          : t(`author.${m.author_kind}`);
    const files = (m.attachments || []).map((a) =>
      a.url ? h('a', { href: a.url, target: '_blank', rel: 'noopener' }, a.file_name) : h('span', null, a.file_name),
    );
    return h(
      'li',
      { class: `msg ${m.direction} ${m.author_kind}` },
      h('p', { class: 'who' }, who, ' · ', h('time', { datetime: m.created_at }, when(m.created_at))),
      h('p', { class: 'body' }, m.body),
      files.length ? h('p', { class: 'files' }, files) : null,
      m.options?.length ? h('p', { class: 'options' }, m.options.map((o) => h('span', { class: 'badge' }, o.label))) : null,
      m.context?.page_url ? h('p', { class: 'context' }, t('case.from_page', { page: m.context.page_title || m.context.page_url })) : null,
      m.delivery_status === 'failed' ? h('p', { class: 'failed' }, t('case.failed', { reason: m.delivery_error || '' })) : null,
    );
  }

  function noteNode(n) {
    return h(
      'li',
      { class: 'note' },
      h('p', { class: 'who' }, t('case.note_by', { name: n.author_user_id ? userName(n.author_user_id) : 'Ventanilla' }), ' · ', h('time', { datetime: n.created_at }, when(n.created_at))),
      h('p', { class: 'body' }, n.body),
    );
  }

  function composerNode() {
    const text = h('textarea', { id: 'composer', rows: 4 });
    const label = h('label', { for: 'composer' }, t(`case.${mode}_label`));
    const tabs = h(
      'div',
      { role: 'radiogroup', class: 'modes', 'aria-label': t('case.mode') },
      ['reply', 'note'].map((m) =>
        h(
          'label',
          null,
          h('input', {
            type: 'radio',
            name: 'mode',
            value: m,
            checked: mode === m,
            onchange: () => {
              mode = m;
              form.classList.toggle('noting', mode === 'note');
              label.textContent = t(`case.${mode}_label`);
              button.disabled = false;
              drawWindow();
            },
          }),
          t(`case.${m}`),
        ),
      ),
    );
    const button = h('button', { type: 'submit', id: 'send' }, t('case.send'));
    // Past a channel's window (WhatsApp: 24 hours) only an approved
    // template may go out: the reply becomes a template picker.
    const windowBox = h('div', { class: 'window', hidden: true });
    let reply = { free_text: true, templates: [] };
    let template = null;
    let params = [];
    const drawWindow = () => {
      const closed = mode === 'reply' && !reply.free_text;
      windowBox.hidden = !closed;
      text.hidden = closed;
      label.hidden = closed;
      if (!closed) return;
      const chooser = h(
        'select',
        {
          id: 'template',
          onchange: (e) => {
            template = reply.templates[Number(e.target.value)] ?? null;
            params = Array.from({ length: template?.parameters ?? 0 }, () => '');
            drawWindow();
          },
        },
        h('option', { value: '' }, t('case.template_pick')),
        reply.templates.map((tpl, i) => h('option', { value: String(i), selected: tpl === template }, `${tpl.name} (${tpl.language})`)),
      );
      const preview = () => (template ? template.text.replace(/\{\{(\d+)\}\}/g, (_, n) => params[Number(n) - 1] || `{{${n}}}`) : '');
      const shown = h('p', { class: 'preview', id: 'template-preview' }, preview());
      const inputs = params.map((value, i) =>
        h(
          'span',
          { class: 'field' },
          h('label', { for: `param-${i + 1}` }, t('case.template_param', { n: i + 1 })),
          h('input', {
            type: 'text',
            id: `param-${i + 1}`,
            value,
            oninput: (e) => {
              params[i] = e.target.value;
              shown.textContent = preview();
            },
          }),
        ),
      );
      windowBox.replaceChildren(
        h('p', { class: 'warn', role: 'note' }, t('case.window_closed'), reply.reason ? h('small', { class: 'details', lang: 'en' }, reply.reason) : null),
        ...(reply.templates.length
          ? [h('label', { for: 'template' }, t('case.template')), chooser, ...inputs, ...(template ? [shown] : [])]
          : [h('p', null, t('case.no_templates'))]),
      );
      button.disabled = !template;
    };
    const form = h(
      'form',
      { class: 'composer', onsubmit: (e) => (e.preventDefault(), send(text)) },
      tabs,
      windowBox,
      label,
      text,
      h('p', { class: 'hint' }, t('case.send_hint'), ' ', t('canned.hint')),
      button,
    );
    // Canned responses: `/` then part of a shortcut or title.
    const picks = h('ul', { class: 'picks', role: 'listbox', id: 'canned-picks', 'aria-label': t('canned.title'), hidden: true });
    let choices = [];
    let chosen = 0;
    const showPicks = () => {
      picks.hidden = choices.length === 0;
      text.setAttribute('aria-expanded', String(!picks.hidden));
      picks.replaceChildren(
        ...choices.map((c, i) =>
          h(
            'li',
            { role: 'option', id: `pick-${i}`, 'aria-selected': String(i === chosen), onmousedown: (e) => (e.preventDefault(), pick(i)) },
            h('strong', null, `/${c.shortcut}`),
            ' ',
            c.title,
          ),
        ),
      );
      if (!picks.hidden) text.setAttribute('aria-activedescendant', `pick-${chosen}`);
      else text.removeAttribute('aria-activedescendant');
    };
    const pick = (i) => {
      const c = choices[i];
      if (!c) return;
      text.value = c.rendered ?? c.body;
      choices = [];
      showPicks();
      text.focus();
    };
    const lookUp = debounce(async () => {
      const typed = text.value;
      if (!typed.startsWith('/') || typed.includes('\n')) {
        choices = [];
        return showPicks();
      }
      const found = await api('GET', `/canned-responses${query({ case_id: id, q: typed.slice(1) })}`).catch(() => null);
      if (text.value !== typed) return;
      choices = (found?.items || []).slice(0, 8);
      chosen = 0;
      showPicks();
    }, 120);
    text.setAttribute('role', 'combobox');
    text.setAttribute('aria-autocomplete', 'list');
    text.setAttribute('aria-controls', 'canned-picks');
    text.setAttribute('aria-expanded', 'false');
    text.addEventListener('input', lookUp);
    text.addEventListener('keydown', (e) => {
      if (!picks.hidden && ['ArrowDown', 'ArrowUp'].includes(e.key)) {
        e.preventDefault();
        chosen = (chosen + (e.key === 'ArrowDown' ? 1 : choices.length - 1)) % choices.length;
        return showPicks();
      }
      if (!picks.hidden && (e.key === 'Enter' || e.key === 'Tab') && !e.ctrlKey && !e.metaKey) {
        e.preventDefault();
        return pick(chosen);
      }
      if (!picks.hidden && e.key === 'Escape') {
        choices = [];
        return showPicks();
      }
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        send(text);
      }
    });
    form.insertBefore(picks, text.nextSibling);
    return {
      form,
      setClosed(closed) {
        text.disabled = closed;
        button.disabled = closed;
      },
      setReply(options) {
        const changed = JSON.stringify(options) !== JSON.stringify(reply);
        reply = options;
        if (changed) drawWindow();
      },
      // The template to send instead of text, when the window is closed.
      template() {
        return mode === 'reply' && !reply.free_text && template
          ? { name: template.name, language: template.language, parameters: params }
          : null;
      },
    };
  }

  async function send(text) {
    const templated = composer?.template();
    const body = text.value.trim();
    if (!body && !templated) return;
    const path = mode === 'note' ? `/cases/${id}/notes` : `/cases/${id}/messages`;
    const sent = await attempt(() => api('POST', path, templated ? { template: templated } : { body }));
    if (sent) {
      text.value = '';
      await load();
      document.getElementById('composer')?.focus();
    }
  }

  function contactNode() {
    const contact = state.contact;
    const others = state.history.filter((x) => x.id !== id);
    return h(
      'section',
      { class: 'panel', 'aria-labelledby': 'contact-title' },
      h('h2', { id: 'contact-title' }, contact ? h('a', { href: `#/contacts/${contact.id}` }, contact.name || t('author.contact')) : t('author.contact')),
      h('ul', { class: 'plain' }, (contact?.identities || []).map((i) => h('li', null, `${t(`channel.${i.channel}`)}: ${i.value}`))),
      h('h3', null, t('case.history')),
      others.length
        ? h('ul', { class: 'plain' }, others.map((x) => h('li', null, h('a', { href: `#/cases/${x.id}` }, `#${x.number} · ${x.subject}`), ' ', h('span', { class: 'muted' }, t(`status.${x.status}`)))))
        : h('p', { class: 'muted' }, t('case.no_history')),
    );
  }

  // The unit's custom fields for this case, saved together.
  function fieldsNode(defs, values) {
    const controls = defs.map((d) => {
      const id = `field-${d.key}`;
      const value = values[d.key];
      let control;
      let read;
      if (d.kind === 'select') {
        control = h('select', { id }, h('option', { value: '' }, '—'), d.options.map((o) => h('option', { value: o, selected: o === value }, o)));
        read = () => control.value || null;
      } else if (d.kind === 'checkbox') {
        control = h('input', { id, type: 'checkbox', checked: value === true });
        read = () => control.checked;
      } else if (d.kind === 'number') {
        control = h('input', { id, type: 'number', step: 'any', value: value ?? '' });
        read = () => (control.value === '' ? null : Number(control.value));
      } else {
        control = h('input', { id, type: d.kind === 'date' ? 'date' : 'text', value: value ?? '' });
        read = () => control.value.trim() || null;
      }
      const label = h('label', { for: id }, d.label, d.required ? ` (${t('fields.required')})` : '');
      return { key: d.key, read, node: d.kind === 'checkbox' ? h('p', null, control, label) : h('div', { class: 'field' }, label, control) };
    });
    return h(
      'form',
      {
        class: 'panel stack',
        'aria-labelledby': 'fields-title',
        onsubmit: async (e) => {
          e.preventDefault();
          const custom_fields = Object.fromEntries(controls.map((c) => [c.key, c.read()]));
          if (await attempt(() => api('PATCH', `/cases/${id}`, { custom_fields }), t('saved'))) await load();
        },
      },
      h('h2', { id: 'fields-title' }, t('fields.title')),
      controls.map((c) => c.node),
      h('button', { type: 'submit', id: 'fields-save', class: 'ghost' }, t('save')),
    );
  }

  function suggestionsNode(lastIn) {
    const box = h('section', { class: 'panel', 'aria-labelledby': 'kb-title' }, h('h2', { id: 'kb-title' }, t('kb.title')));
    if (!lastIn) return box;
    const text = lastIn.body.slice(0, 300);
    api('GET', `/search${query({ q: text, unit_id: state.c.unit_id, limit: 3 })}`)
      .then((found) => {
        const hits = found.hits || [];
        if (!hits.length) return box.append(h('p', { class: 'muted' }, t('kb.none')));
        box.append(
          h(
            'ul',
            { class: 'plain' },
            hits.map((hit) =>
              h(
                'li',
                null,
                h('strong', null, hit.title),
                h('p', { class: 'muted' }, hit.short_answer || hit.snippet),
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'ghost',
                    onclick: () => {
                      const composer = document.getElementById('composer');
                      composer.value = `${composer.value ? `${composer.value}\n\n` : ''}${hit.short_answer || hit.title}\n${hit.url}`;
                      composer.focus();
                    },
                  },
                  t('kb.insert'),
                ),
              ),
            ),
          ),
        );
      })
      .catch(() => {});
    return box;
  }

  async function claim() {
    if (await attempt(() => api('POST', `/cases/${id}/claim`), t('case.taken'))) await load();
    else await load();
  }

  async function patch(change, done) {
    if (await attempt(() => api('PATCH', `/cases/${id}`, change), done)) await load();
  }

  async function untag(tag) {
    if (await attempt(() => api('DELETE', `/cases/${id}/tags/${encodeURIComponent(tag)}`))) await load();
  }

  function snoozeDialog() {
    const pad = (n) => String(n).padStart(2, '0');
    const later = new Date(Date.now() + 24 * 3600 * 1000);
    const local = `${later.getFullYear()}-${pad(later.getMonth() + 1)}-${pad(later.getDate())}T08:00`;
    const until = h('input', { type: 'datetime-local', id: 'snooze-until', required: true, value: local });
    formDialog('snooze', t('case.snooze'), [[t('case.snooze_until'), until]], t('case.snooze'), async () => {
      const at = new Date(until.value);
      const done = await attempt(() => api('PATCH', `/cases/${id}`, { snoozed_until: at.toISOString() }), t('case.snoozed'));
      if (done) await load();
      return Boolean(done);
    });
  }

  function transferDialog() {
    const unitSelect = h(
      'select',
      { id: 'transfer-unit', required: true },
      units.map((u) => h('option', { value: u.id, selected: u.id === state.c.unit_id }, u.name)),
    );
    const note = h('textarea', { id: 'transfer-note', rows: 3 });
    const fields = [
      [t('case.transfer_unit'), unitSelect],
      [t('case.transfer_note'), note],
    ];
    formDialog('transfer', t('case.transfer'), fields, t('case.transfer'), async () => {
      const body = { unit_id: unitSelect.value };
      if (note.value.trim()) body.note = note.value.trim();
      const moved = await attempt(() => api('POST', `/cases/${id}/transfer`, body), t('case.transferred'));
      if (!moved) return false;
      if (myUnits().some((u) => u.id === moved.unit_id)) await load();
      else location.hash = '#/inbox/mine';
      return true;
    });
  }

  try {
    await load();
  } catch (e) {
    el.replaceChildren(h('p', { class: 'fatal' }, e instanceof Problem && e.status === 404 ? t('case.gone') : t('error.network')));
    return { el };
  }
  const reloadSoon = debounce(() => load().catch(() => {}), 120);
  return {
    el,
    onEvent(event) {
      if (event.kind === 'resync' || event.case_id === id) reloadSoon();
    },
    keys: {
      r: () => focusComposer('reply'),
      n: () => focusComposer('note'),
      c: () => document.getElementById('claim')?.click(),
      e: () => document.getElementById('resolve')?.click(),
      t: () => document.getElementById('transfer')?.click(),
    },
  };

  function focusComposer(which) {
    el.querySelector(`input[name=mode][value=${which}]`)?.click();
    document.getElementById('composer')?.focus();
  }
}

// ---------------------------------------------------------------- contact

// A person: their name and identities on each channel, every case they
// opened, their consent record, and who else they may be.
async function contactView(id) {
  const el = h('div', { class: 'contact' });

  async function load() {
    const [contact, cases, consents, twins] = await Promise.all([
      api('GET', `/contacts/${id}`),
      api('GET', `/cases${query({ contact_id: id, limit: 100 })}`).catch(() => ({ items: [] })),
      api('GET', `/contacts/${id}/consents`).catch(() => ({ items: [] })),
      api('GET', `/contacts/${id}/possible-duplicates`).catch(() => []),
    ]);
    el.replaceChildren(...render(contact, cases.items, consents.items, twins).filter(Boolean));
  }

  function render(contact, cases, consents, twins) {
    const name = h('input', { type: 'text', id: 'contact-name', value: contact.name || '', maxlength: 200 });
    const nameForm = h(
      'form',
      {
        class: 'inline',
        onsubmit: async (e) => {
          e.preventDefault();
          const value = name.value.trim();
          if (await attempt(() => api('PATCH', `/contacts/${id}`, { name: value || null }), t('saved'))) await load();
        },
      },
      h('label', { for: 'contact-name' }, t('contact.name')),
      name,
      h('button', { type: 'submit' }, t('save')),
    );
    const channel = h('select', { id: 'identity-channel' }, CHANNELS.map((c) => h('option', { value: c }, t(`channel.${c}`))));
    const value = h('input', { type: 'text', id: 'identity-value', required: true, maxlength: 320 });
    const addIdentity = h(
      'form',
      {
        class: 'inline',
        onsubmit: async (e) => {
          e.preventDefault();
          const body = { channel: channel.value, value: value.value.trim() };
          if (await attempt(() => api('POST', `/contacts/${id}/identities`, body), t('saved'))) await load();
        },
      },
      labelled(t('contact.channel'), channel),
      labelled(t('contact.identity'), value),
      h('button', { type: 'submit' }, t('contact.add_identity')),
    );
    const identities = h(
      'ul',
      { class: 'plain' },
      contact.identities.map((i) =>
        h(
          'li',
          null,
          `${t(`channel.${i.channel}`)}: ${i.value} `,
          h(
            'button',
            {
              type: 'button',
              class: 'ghost',
              'aria-label': t('contact.remove_identity', { value: i.value }),
              onclick: async () => (await attempt(() => api('DELETE', `/contacts/${id}/identities/${i.id}`), t('saved'))) !== undefined && load(),
            },
            '×',
          ),
        ),
      ),
    );
    const caseList = cases.length
      ? h(
          'ul',
          { class: 'cases' },
          cases.map((c) =>
            h(
              'li',
              { class: 'case-row' },
              h('a', { href: `#/cases/${c.id}`, class: 'subject' }, `#${c.number} · ${c.subject}`),
              h('span', { class: `badge status-${c.status}` }, t(`status.${c.status}`)),
              h('span', { class: 'badge' }, t(`channel.${c.channel}`)),
              h('span', { class: 'muted' }, unitName(c.unit_id)),
              h('time', { datetime: c.created_at }, when(c.created_at)),
            ),
          ),
        )
      : h('p', { class: 'muted' }, t('case.no_history'));
    const consentList = consents.length
      ? h(
          'table',
          { class: 'grid' },
          h('thead', null, h('tr', null, ['contact.purpose', 'contact.consent_action', 'contact.text_version', 'contact.channel', 'contact.recorded'].map((k) => h('th', { scope: 'col' }, t(k))))),
          h(
            'tbody',
            null,
            consents.map((c) =>
              h('tr', null, h('td', null, c.purpose), h('td', null, t(`consent.${c.action}`)), h('td', null, c.text_version), h('td', null, t(`channel.${c.channel}`)), h('td', null, when(c.recorded_at))),
            ),
          ),
        )
      : h('p', { class: 'muted' }, t('contact.no_consent'));
    const twinList = twins.length
      ? h(
          'ul',
          { class: 'plain' },
          twins.map((d) =>
            h(
              'li',
              null,
              h('a', { href: `#/contacts/${d.contact.id}` }, d.contact.name || d.contact.identities.map((i) => i.value).join(', ')),
              ' ',
              h('span', { class: 'muted' }, d.reason),
              ' ',
              h(
                'button',
                {
                  type: 'button',
                  class: 'ghost',
                  onclick: async () => {
                    if (!confirm(t('contact.merge_confirm', { name: d.contact.name || '' }))) return;
                    if (await attempt(() => api('POST', `/contacts/${id}/merge`, { source_contact_id: d.contact.id }), t('contact.merged'))) await load();
                  },
                },
                t('contact.merge'),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, t('contact.no_duplicates'));
    const merged = contact.merged_into
      ? h('p', { class: 'notice' }, t('contact.merged_into'), ' ', h('a', { href: `#/contacts/${contact.merged_into}` }, t('contact.open_merged')))
      : null;
    return [
      h('h1', null, contact.name || t('author.contact')),
      merged,
      h('section', { class: 'panel', 'aria-labelledby': 'c-who' }, h('h2', { id: 'c-who' }, t('contact.details')), nameForm, identities, addIdentity),
      h('section', { class: 'panel', 'aria-labelledby': 'c-cases' }, h('h2', { id: 'c-cases' }, t('contact.cases', { n: cases.length })), caseList),
      h('section', { class: 'panel', 'aria-labelledby': 'c-consent' }, h('h2', { id: 'c-consent' }, t('contact.consent')), consentList),
      h('section', { class: 'panel', 'aria-labelledby': 'c-twins' }, h('h2', { id: 'c-twins' }, t('contact.duplicates')), twinList),
    ];
  }

  try {
    await load();
  } catch (e) {
    el.replaceChildren(h('p', { class: 'fatal' }, e instanceof Problem && e.status === 404 ? t('contact.gone') : t('error.network')));
    return { el };
  }
  return {
    el,
    onEvent(event) {
      if (event.kind === 'resync') load().catch(() => {});
    },
  };
}

// ---------------------------------------------------------------- notifications

async function notificationsView() {
  const list = h('ul', { class: 'plain notifications' });
  const el = h('section', { class: 'page' }, h('h1', null, t('notifications')), list);
  async function load() {
    const found = await attempt(() => api('GET', '/notifications?limit=50'));
    if (!found) return;
    list.replaceChildren(
      ...found.items.map((n) =>
        h(
          'li',
          { class: n.read_at ? 'read' : 'unread' },
          h('time', { datetime: n.created_at }, when(n.created_at)),
          ' ',
          n.case_id ? h('a', { href: `#/cases/${n.case_id}` }, n.text) : n.text,
        ),
      ),
    );
    if (!found.items.length) list.append(h('li', { class: 'empty' }, t('empty')));
  }
  await load();
  return { el, onEvent: (e) => e.kind === 'notification' && load() };
}

// ---------------------------------------------------------------- unit (supervisors)

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

async function unitView(unitId) {
  const el = h('div', { class: 'page unit' });
  const supervised = units.filter((u) => supervises(u.id));

  async function load() {
    const [unit, agents, queue, canned, protocols, bases] = await Promise.all([
      api('GET', `/units/${unitId}`),
      api('GET', `/agents${query({ unit_id: unitId })}`),
      api('GET', `/cases${query({ unit_id: unitId, status: 'queued', limit: 100 })}`),
      api('GET', `/canned-responses${query({ unit_id: unitId })}`),
      api('GET', `/units/${unitId}/protocols`).catch(() => ({ items: [] })),
      api('GET', '/knowledge-bases').catch(() => ({ items: [] })),
    ]);
    const kbs = bases.items.filter((kb) => kb.unit_id === unitId);
    const articles = await Promise.all(kbs.map((kb) => api('GET', `/knowledge-bases/${kb.id}/articles?limit=100`).then((a) => a.items).catch(() => [])));
    render(unit, agents.items, queue.items, canned.items.filter((c) => c.unit_id === unitId), protocols.items, kbs.map((kb, i) => ({ kb, articles: articles[i] })));
  }

  // SLA and crisis handling are protocols: their settings come from the
  // plugin's schema; one that serves other units too is the admins'.
  function protocolsPanel(protocols) {
    return h(
      'section',
      { class: 'panel', 'aria-labelledby': 'protocols-title' },
      h('h2', { id: 'protocols-title' }, t('protocols.title')),
      protocols.length ? null : h('p', { class: 'muted' }, t('protocols.none')),
      protocols.map((p) => {
        const form = schemaForm(p.settings_schema, p.settings, `proto-${p.id.slice(0, 8)}`);
        const state = p.status === 'suspended' ? t('protocols.suspended', { reason: p.suspended_reason || '' }) : p.enabled ? t('protocols.on') : t('protocols.off');
        return h(
          'form',
          {
            class: 'stack protocol',
            'data-protocol': p.plugin_id,
            onsubmit: async (e) => {
              e.preventDefault();
              let settings;
              try {
                settings = form.value();
              } catch (err) {
                return toast(err.message, 'error');
              }
              // The form already shows what was saved; the page is not redrawn.
              await attempt(() => api('PATCH', `/units/${unitId}/protocols/${p.id}`, { settings }), t('saved'));
            },
          },
          h('h3', null, p.name, ' ', h('span', { class: `badge ${p.status === 'active' && p.enabled ? 'ok' : 'warn'}` }, state)),
          h('fieldset', { disabled: !p.editable }, h('legend', { class: 'muted' }, `${p.plugin_id} ${p.version}`), form.nodes),
          p.editable ? h('button', { type: 'submit' }, t('save')) : h('p', { class: 'hint' }, t('protocols.shared')),
        );
      }),
    );
  }

  // The unit's knowledge bases: their articles, and a small editor.
  function kbPanel(bases) {
    const editor = h('div');
    function edit(kb, article) {
      const title = h('input', { type: 'text', id: 'article-title', required: true, value: article?.title || '' });
      const body = h('textarea', { id: 'article-body', rows: 8, required: true, value: article?.body || '' });
      const status = select(['draft', 'published', 'archived'], (x) => t(`kb.status.${x}`), () => {}, article?.status || 'draft');
      status.id = 'article-status';
      editor.replaceChildren(
        h(
          'form',
          {
            class: 'canned-form',
            onsubmit: async (e) => {
              e.preventDefault();
              const payload = { title: title.value, body: body.value, status: status.value };
              if (article) payload.version = article.version;
              const path = article ? `/knowledge-bases/${kb.id}/articles/${article.id}` : `/knowledge-bases/${kb.id}/articles`;
              if (await attempt(() => api(article ? 'PATCH' : 'POST', path, payload), t('saved'))) await load();
            },
          },
          h('h3', null, article ? t('kb.edit', { title: article.title }) : t('kb.new', { kb: kb.name })),
          h('label', { for: 'article-title' }, t('kb.article_title')),
          title,
          h('label', { for: 'article-body' }, t('kb.article_body')),
          body,
          h('label', { for: 'article-status' }, t('kb.article_status')),
          status,
          h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'article-save' }, t('save')), h('button', { type: 'button', class: 'ghost', onclick: () => editor.replaceChildren() }, t('cancel'))),
        ),
      );
      title.focus();
    }
    return h(
      'section',
      { class: 'panel', 'aria-labelledby': 'unit-kb-title' },
      h('h2', { id: 'unit-kb-title' }, t('kb.unit_title')),
      bases.length ? null : h('p', { class: 'muted' }, t('kb.unit_none')),
      bases.map(({ kb, articles }) =>
        h(
          'div',
          { class: 'kb', 'data-kb': kb.slug },
          h('h3', null, kb.name, ' ', h('span', { class: 'badge' }, t(`kb.visibility.${kb.visibility}`)), ' ', kb.visibility === 'public' ? h('a', { href: kb.help_center_url, target: '_blank', rel: 'noopener' }, t('kb.open')) : null),
          h(
            'ul',
            { class: 'plain' },
            articles.map((a) =>
              h('li', null, h('button', { type: 'button', class: 'link', onclick: () => edit(kb, a) }, a.title), ' ', h('span', { class: `badge kb-${a.status}` }, t(`kb.status.${a.status}`)), ' ', h('time', { datetime: a.updated_at, class: 'muted' }, when(a.updated_at))),
            ),
          ),
          h('button', { type: 'button', class: 'ghost', onclick: () => edit(kb, null) }, t('kb.add')),
        ),
      ),
      editor,
    );
  }

  function cannedPanel(responses) {
    const shortcut = h('input', { type: 'text', id: 'canned-shortcut', required: true });
    const title = h('input', { type: 'text', id: 'canned-title', required: true });
    const body = h('textarea', { id: 'canned-body', rows: 3, required: true });
    return h(
      'section',
      { class: 'panel' },
      h('h2', null, t('canned.title')),
      h(
        'ul',
        { class: 'plain canned' },
        responses.map((c) =>
          h(
            'li',
            null,
            h('strong', null, `/${c.shortcut}`),
            ` · ${c.title}`,
            h('p', { class: 'muted' }, c.body),
            h('button', { type: 'button', class: 'ghost', onclick: async () => (await attempt(() => api('DELETE', `/canned-responses/${c.id}`), t('saved'))) !== undefined && load() }, t('canned.remove', { shortcut: c.shortcut })),
          ),
        ),
      ),
      h(
        'form',
        {
          class: 'canned-form',
          onsubmit: async (e) => {
            e.preventDefault();
            const made = await attempt(
              () => api('POST', '/canned-responses', { unit_id: unitId, shortcut: shortcut.value, title: title.value, body: body.value }),
              t('saved'),
            );
            if (made) await load();
          },
        },
        h('h3', null, t('canned.add')),
        h('label', { for: 'canned-shortcut' }, t('canned.shortcut')),
        shortcut,
        h('label', { for: 'canned-title' }, t('canned.name')),
        title,
        h('label', { for: 'canned-body' }, t('canned.body')),
        body,
        h('p', { class: 'hint' }, t('canned.variables')),
        h('button', { type: 'submit', id: 'canned-save' }, t('canned.add')),
      ),
    );
  }

  function fieldsPanel(unit) {
    const defs = unit.custom_fields;
    const save = async (next) => {
      const saved = await attempt(() => api('PATCH', `/units/${unitId}`, { custom_fields: next }), t('saved'));
      if (!saved) return;
      units = units.map((u) => (u.id === unitId ? saved : u));
      await load();
    };
    const key = h('input', { type: 'text', id: 'def-key', required: true, placeholder: 'motivo' });
    const label = h('input', { type: 'text', id: 'def-label', required: true });
    const kind = select(['text', 'number', 'date', 'checkbox', 'select'], (k) => t(`fields.kind.${k}`), () => {}, 'text');
    kind.id = 'def-kind';
    const options = h('input', { type: 'text', id: 'def-options' });
    const required = h('input', { type: 'checkbox', id: 'def-required' });
    return h(
      'section',
      { class: 'panel' },
      h('h2', null, t('fields.title')),
      h(
        'ul',
        { class: 'plain canned' },
        defs.map((d) =>
          h(
            'li',
            null,
            h('strong', null, d.label),
            ` · ${d.key} · ${t(`fields.kind.${d.kind}`)}${d.options?.length ? `: ${d.options.join(', ')}` : ''}${d.required ? ` · ${t('fields.required')}` : ''} `,
            h('button', { type: 'button', class: 'ghost', onclick: () => save(defs.filter((x) => x.key !== d.key)) }, t('fields.remove', { label: d.label })),
          ),
        ),
      ),
      h(
        'form',
        {
          class: 'canned-form',
          onsubmit: (e) => {
            e.preventDefault();
            const def = { key: key.value.trim(), label: label.value.trim(), kind: kind.value, required: required.checked };
            if (kind.value === 'select') def.options = options.value.split(',').map((o) => o.trim()).filter(Boolean);
            save([...defs, def]);
          },
        },
        h('h3', null, t('fields.add')),
        h('label', { for: 'def-key' }, t('fields.key')),
        key,
        h('label', { for: 'def-label' }, t('fields.label')),
        label,
        h('label', { for: 'def-kind' }, t('fields.kind')),
        kind,
        h('label', { for: 'def-options' }, t('fields.options')),
        options,
        h('p', null, required, h('label', { for: 'def-required' }, t('fields.required_label'))),
        h('button', { type: 'submit', id: 'def-save' }, t('fields.add')),
      ),
    );
  }

  // An agent's own capacity; left empty, the unit's applies.
  function capacityInput(agent, unit) {
    return h('input', {
      type: 'number',
      min: 0,
      max: 500,
      class: 'capacity',
      id: `cap-${agent.user_id}`,
      'aria-label': t('unit.capacity_of', { name: agent.display_name }),
      placeholder: String(unit.routing.capacity.default),
      value: agent.capacity ? String(agent.capacity.default) : '',
      onchange: async (e) => {
        const value = e.target.value.trim();
        const capacity = value === '' ? null : { default: Number(value), channels: agent.capacity?.channels || {} };
        if (await attempt(() => api('PATCH', `/agents/${agent.user_id}`, { capacity }), t('saved'))) await refreshLive();
      },
    });
  }

  // The agents and the queue change live; the settings forms are drawn
  // only when the page loads or one is saved, so news never wipes what a
  // supervisor is typing.
  const liveBox = h('section', { class: 'panel', 'aria-live': 'off' });
  let shownUnit = null;

  function drawLive(unit, agents, queue) {
    const people = h(
      'table',
      { class: 'agents' },
      h('caption', null, t('unit.agents')),
      h('thead', null, h('tr', null, ['name', 'presence', 'load', 'capacity', 'since'].map((c) => h('th', { scope: 'col' }, t(`unit.col.${c}`))))),
      h(
        'tbody',
        null,
        agents.map((a) =>
          h(
            'tr',
            { 'data-agent': a.user_id },
            h('td', null, a.display_name),
            h('td', null, h('span', { class: `dot ${a.presence}` }), t(`presence.${a.presence}`)),
            h('td', null, String(a.load)),
            h('td', null, capacityInput(a, unit)),
            h('td', null, when(a.presence_since)),
          ),
        ),
      ),
    );
    liveBox.replaceChildren(
      people,
      h('h2', null, t('unit.queue', { n: queue.length })),
      h('ul', { class: 'plain' }, queue.map((c) => h('li', null, h('a', { href: `#/cases/${c.id}` }, `#${c.number} · ${c.subject}`), ' ', h('time', { datetime: c.created_at }, when(c.created_at))))),
    );
  }

  async function refreshLive() {
    if (!shownUnit) return;
    const [agents, queue] = await Promise.all([
      api('GET', `/agents${query({ unit_id: unitId })}`),
      api('GET', `/cases${query({ unit_id: unitId, status: 'queued', limit: 100 })}`),
    ]);
    drawLive(shownUnit, agents.items, queue.items);
  }

  function render(unit, agents, queue, canned, protocols, bases) {
    shownUnit = unit;
    const picker = h(
      'nav',
      { class: 'unit-picker', 'aria-label': t('unit.pick') },
      supervised.map((u) => h('a', { href: `#/units/${u.id}`, 'aria-current': u.id === unitId ? 'page' : null }, u.name)),
    );
    drawLive(unit, agents, queue);
    el.replaceChildren(
      picker,
      h('h1', null, unit.name),
      h(
        'div',
        { class: 'columns' },
        liveBox,
        h('section', { class: 'panel' }, hoursForm(unit), routingForm(unit)),
        cannedPanel(canned),
        fieldsPanel(unit),
        protocolsPanel(protocols),
        kbPanel(bases),
      ),
    );
  }

  function hoursForm(unit) {
    const rows = DAYS.map((day) => {
      const open = unit.business_hours.weekly.find((d) => d.day === day);
      const on = h('input', { type: 'checkbox', id: `day-${day}`, checked: Boolean(open) });
      const from = h('input', { type: 'time', id: `open-${day}`, value: open?.open || '08:00', 'aria-label': t('hours.opens', { day: t(`day.${day}`) }) });
      const to = h('input', { type: 'time', id: `close-${day}`, value: open?.close || '17:00', 'aria-label': t('hours.closes', { day: t(`day.${day}`) }) });
      return { day, on, from, to, node: h('tr', null, h('td', null, on, h('label', { for: `day-${day}` }, t(`day.${day}`))), h('td', null, from), h('td', null, to)) };
    });
    const holidays = h('textarea', { id: 'holidays', rows: 2, value: unit.business_hours.holidays.join(', ') });
    return h(
      'form',
      {
        class: 'hours',
        onsubmit: async (e) => {
          e.preventDefault();
          const weekly = rows.filter((r) => r.on.checked).map((r) => ({ day: r.day, open: r.from.value, close: r.to.value }));
          const days = holidays.value.split(/[\s,]+/).filter(Boolean);
          const saved = await attempt(() => api('PATCH', `/units/${unitId}`, { business_hours: { weekly, holidays: days } }), t('saved'));
          if (saved) await load();
        },
      },
      h('h2', null, t('hours.title')),
      h('table', null, h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('hours.day')), h('th', { scope: 'col' }, t('hours.open')), h('th', { scope: 'col' }, t('hours.close')))), h('tbody', null, rows.map((r) => r.node))),
      h('label', { for: 'holidays' }, t('hours.holidays')),
      holidays,
      h('button', { type: 'submit', id: 'save-hours' }, t('save')),
    );
  }

  function routingForm(unit) {
    const mode = select(['manual', 'round_robin', 'least_loaded'], (m) => t(`routing.${m}`), () => {}, unit.routing.mode);
    const capacity = h('input', { type: 'number', min: 0, max: 500, value: String(unit.routing.capacity.default) });
    const requeue = h('input', { type: 'checkbox', id: 'requeue', checked: unit.routing.requeue_when_offline });
    return h(
      'form',
      {
        class: 'routing',
        onsubmit: async (e) => {
          e.preventDefault();
          const routing = {
            mode: mode.value,
            capacity: { default: Number(capacity.value), channels: unit.routing.capacity.channels },
            requeue_when_offline: requeue.checked,
          };
          if (await attempt(() => api('PATCH', `/units/${unitId}`, { routing }), t('saved'))) await load();
        },
      },
      h('h2', null, t('routing.title')),
      labelled(t('routing.mode'), mode),
      labelled(t('routing.capacity'), capacity),
      h('p', null, requeue, h('label', { for: 'requeue' }, t('routing.requeue'))),
      h('button', { type: 'submit' }, t('save')),
    );
  }

  try {
    await load();
  } catch (e) {
    el.replaceChildren(h('p', { class: 'fatal' }, e instanceof Problem ? e.describe() : t('error.network')));
  }
  const refreshSoon = debounce(() => refreshLive().catch(() => {}), 300);
  return {
    el,
    onEvent(event) {
      if (['presence.changed', 'case.created', 'case.updated', 'resync'].includes(event.kind)) refreshSoon();
    },
  };
}

// ---------------------------------------------------------------- admin

const ADMIN_TABS = ['plugins', 'units', 'users', 'tokens', 'consent'];

async function adminView(tab) {
  if (!me.is_admin) return { el: h('p', { class: 'fatal' }, t('admin.only')) };
  const el = h('div', { class: 'page admin' });
  const tabs = h(
    'nav',
    { class: 'unit-picker', 'aria-label': t('admin.sections') },
    ADMIN_TABS.map((name) => h('a', { href: `#/admin/${name}`, 'aria-current': name === tab ? 'page' : null }, t(`admin.${name}`))),
  );
  const body = h('div');
  el.append(tabs, h('h1', null, t(`admin.${tab}`)), body);
  const views = { plugins: adminPlugins, units: adminUnits, users: adminUsers, tokens: adminTokens, consent: adminConsent };
  try {
    await (views[tab] || adminPlugins)(body);
  } catch (e) {
    body.replaceChildren(h('p', { class: 'fatal' }, e instanceof Problem ? e.describe() : t('error.network')));
  }
  return { el };
}

// A form for a plugin's settings, built from its JSON Schema: strings
// (a choice when the schema lists them), numbers, yes/no, lists of text;
// anything else is edited as JSON.
function schemaForm(schema, values, prefix) {
  const fields = [];
  const props = schema?.properties || {};
  const required = new Set(schema?.required || []);
  for (const [name, prop] of Object.entries(props)) {
    const id = `${prefix}-${name}`;
    const current = values?.[name] ?? prop.default;
    const label = h('label', { for: id }, prop.title || name, required.has(name) ? ' *' : '');
    const hint = prop.description ? h('p', { class: 'hint', id: `${id}-hint` }, prop.description) : null;
    let control;
    let read;
    const type = Array.isArray(prop.type) ? prop.type.find((x) => x !== 'null') : prop.type;
    if (Array.isArray(prop.enum)) {
      control = h('select', { id }, (required.has(name) ? [] : ['']).concat(prop.enum).map((v) => h('option', { value: String(v), selected: v === current }, String(v))));
      read = () => (control.value === '' ? undefined : prop.enum.find((v) => String(v) === control.value));
    } else if (type === 'boolean') {
      control = h('input', { id, type: 'checkbox', checked: Boolean(current) });
      read = () => control.checked;
    } else if (type === 'integer' || type === 'number') {
      control = h('input', { id, type: 'number', step: type === 'integer' ? '1' : 'any', value: current ?? '', min: prop.minimum, max: prop.maximum });
      read = () => (control.value === '' ? undefined : Number(control.value));
    } else if (type === 'string') {
      control = h('input', { id, type: 'text', value: current ?? '', required: required.has(name) });
      read = () => (control.value === '' ? undefined : control.value);
    } else if (type === 'array' && prop.items?.type === 'string') {
      control = h('textarea', { id, rows: 3, value: (current || []).join('\n') });
      read = () => control.value.split('\n').map((x) => x.trim()).filter(Boolean);
    } else {
      control = h('textarea', { id, rows: 4, class: 'json', value: current === undefined ? '' : JSON.stringify(current, null, 2) });
      read = () => {
        if (!control.value.trim()) return undefined;
        try {
          return JSON.parse(control.value);
        } catch {
          throw new Error(t('admin.bad_json', { field: name }));
        }
      };
    }
    if (hint) control.setAttribute('aria-describedby', `${id}-hint`);
    fields.push({ name, node: h('div', { class: 'field' }, label, control, hint), read });
  }
  return {
    nodes: fields.map((f) => f.node),
    value() {
      const out = {};
      for (const f of fields) {
        const v = f.read();
        if (v !== undefined) out[f.name] = v;
      }
      return out;
    },
  };
}

function grantsForm(requested, granted, prefix) {
  const flags = ['kv', 'kb_search', 'case_read'].filter((k) => requested[k]);
  const lists = ['http_hosts', 'mail_hosts', 'secrets'].filter((k) => requested[k]?.length);
  const boxes = flags.map((k) => ({ k, el: h('input', { type: 'checkbox', id: `${prefix}-${k}`, checked: granted ? Boolean(granted[k]) : true }) }));
  const texts = lists.map((k) => ({ k, el: h('textarea', { id: `${prefix}-${k}`, rows: 2, value: (granted ? granted[k] : requested[k]).join('\n') }) }));
  return {
    nodes: [
      h('h3', null, t('admin.grants')),
      ...boxes.map(({ k, el }) => h('p', null, el, h('label', { for: el.id }, t(`admin.grant.${k}`)))),
      ...texts.map(({ k, el }) => h('div', { class: 'field' }, h('label', { for: el.id }, t(`admin.grant.${k}`)), el)),
    ],
    value() {
      const out = { kv: false, kb_search: false, case_read: false, http_hosts: [], mail_hosts: [], secrets: [] };
      for (const { k, el } of boxes) out[k] = el.checked;
      for (const { k, el } of texts) out[k] = el.value.split(/[\s,]+/).filter(Boolean);
      return out;
    },
  };
}

async function adminPlugins(body) {
  const [plugins, installs] = await Promise.all([api('GET', '/plugins'), api('GET', '/plugin-installs')]);
  const manifest = h('input', { type: 'file', id: 'plugin-manifest', accept: '.toml', required: true });
  const component = h('input', { type: 'file', id: 'plugin-component', accept: '.wasm', required: true });
  const upload = h(
    'form',
    {
      class: 'panel stack',
      onsubmit: async (e) => {
        e.preventDefault();
        const form = new FormData();
        form.append('manifest', manifest.files[0]);
        form.append('component', component.files[0]);
        if (await attempt(() => api('POST', '/plugins', form), t('admin.uploaded'))) adminPlugins(body);
      },
    },
    h('h2', null, t('admin.upload')),
    h('label', { for: 'plugin-manifest' }, t('admin.manifest')),
    manifest,
    h('label', { for: 'plugin-component' }, t('admin.component')),
    component,
    h('button', { type: 'submit', id: 'plugin-upload' }, t('admin.upload')),
  );
  const editor = h('div', { id: 'install-editor' });

  function openEditor(version, plugin, install) {
    const prefix = `s-${plugin.id}`;
    const settings = schemaForm(version.settings_schema, install?.settings, prefix);
    const grants = grantsForm(version.requested, install?.grants, `g-${plugin.id}`);
    const name = h('input', { type: 'text', id: 'install-name', value: install?.name ?? plugin.name, required: true });
    const unitsBox = h('select', { id: 'install-units', multiple: true, size: Math.min(6, units.length) },
      units.map((u) => h('option', { value: u.id, selected: (install?.units || []).includes(u.id) }, u.name)));
    const enabled = h('input', { type: 'checkbox', id: 'install-enabled', checked: install ? install.enabled : true });
    editor.replaceChildren(
      h(
        'form',
        {
          class: 'panel stack',
          onsubmit: async (e) => {
            e.preventDefault();
            let payload;
            try {
              payload = { name: name.value, settings: settings.value(), grants: grants.value(), enabled: enabled.checked };
            } catch (err) {
              return toast(err.message, 'error');
            }
            const chosen = [...unitsBox.selectedOptions].map((o) => o.value);
            const { enabled: on, ...fields } = payload;
            const done = install
              ? await attempt(() => api('PATCH', `/plugin-installs/${install.id}`, payload), t('saved'))
              : await attempt(async () => {
                  const made = await api('POST', '/plugin-installs', { ...fields, plugin_id: plugin.id, version: version.version, units: chosen });
                  return made.enabled === on ? made : api('PATCH', `/plugin-installs/${made.id}`, { enabled: on });
                }, t('admin.installed'));
            if (done) adminPlugins(body);
          },
        },
        h('h2', null, install ? t('admin.configure', { name: install.name }) : t('admin.install', { name: plugin.name })),
        h('p', { class: 'muted' }, version.description),
        h('label', { for: 'install-name' }, t('admin.install_name')),
        name,
        install ? null : h('label', { for: 'install-units' }, t('admin.install_units')),
        install ? null : unitsBox,
        h('p', null, enabled, h('label', { for: 'install-enabled' }, t('admin.enabled'))),
        h('h3', null, t('admin.settings')),
        settings.nodes,
        grants.nodes,
        h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'install-save' }, t('save')), h('button', { type: 'button', class: 'ghost', onclick: () => editor.replaceChildren() }, t('cancel'))),
      ),
    );
    editor.querySelector('input, select, textarea')?.focus();
  }

  const versionOf = (plugin, v) => plugin.versions.find((x) => x.version === v) || plugin.versions.at(-1);
  const health = await Promise.all(installs.items.map((i) => api('GET', `/plugin-installs/${i.id}/health`).catch(() => null)));
  const ms = (v) => (v == null ? '–' : v.toFixed(1));
  const healthCell = (x) => {
    if (!x) return h('td', null, '–');
    const line = x.calls ? t('admin.health_line', { calls: x.calls, failures: x.failures, p50: ms(x.p50_ms), p99: ms(x.p99_ms) }) : t('admin.no_calls');
    const last = x.last_error ? h('small', { class: 'details', lang: 'en' }, t('admin.last_error', { at: when(x.last_error_at), error: x.last_error })) : null;
    return h('td', { class: x.failures ? 'health warn' : 'health' }, line, last);
  };
  const installTable = h(
    'table',
    { class: 'agents' },
    h('caption', null, t('admin.installs')),
    h('thead', null, h('tr', null, ['name', 'plugin', 'status', 'health', 'actions'].map((c) => h('th', { scope: 'col' }, t(`admin.col.${c}`))))),
    h(
      'tbody',
      null,
      installs.items.map((i, n) => {
        const plugin = plugins.items.find((p) => p.id === i.plugin_id);
        return h(
          'tr',
          { 'data-install': i.id },
          h('td', null, i.name),
          h('td', null, `${i.plugin_id} ${i.version}`),
          h('td', null, i.status === 'suspended' ? t('admin.suspended', { reason: i.suspended_reason || '' }) : i.enabled ? t('admin.on') : t('admin.off')),
          healthCell(health[n]),
          h('td', null, plugin ? h('button', { type: 'button', class: 'ghost', onclick: () => openEditor(versionOf(plugin, i.version), plugin, i) }, t('admin.configure_short')) : null),
        );
      }),
    ),
  );
  const available = h(
    'ul',
    { class: 'plain' },
    plugins.items.map((p) =>
      h('li', { 'data-plugin': p.id }, h('strong', null, p.name), ` · ${p.id} ${p.latest_version} · ${p.world} `,
        h('button', { type: 'button', class: 'ghost', onclick: () => openEditor(versionOf(p, p.latest_version), p, null) }, t('admin.install_short')))),
  );
  body.replaceChildren(h('div', { class: 'columns' }, h('div', null, installTable, h('h2', null, t('admin.available')), available, upload), editor));
}

async function adminUnits(body) {
  const list = await api('GET', '/units');
  const slug = h('input', { type: 'text', id: 'unit-slug', required: true });
  const name = h('input', { type: 'text', id: 'unit-name', required: true });
  body.replaceChildren(
    h('ul', { class: 'plain' }, list.items.map((u) => h('li', null, h('a', { href: `#/units/${u.id}` }, u.name), ` · ${u.slug} · ${u.timezone}`))),
    h(
      'form',
      {
        class: 'panel stack',
        onsubmit: async (e) => {
          e.preventDefault();
          if (await attempt(() => api('POST', '/units', { slug: slug.value, name: name.value }), t('saved'))) {
            units = (await api('GET', '/units')).items;
            adminUnits(body);
          }
        },
      },
      h('h2', null, t('admin.new_unit')),
      h('label', { for: 'unit-slug' }, t('admin.slug')),
      slug,
      h('label', { for: 'unit-name' }, t('admin.unit_name')),
      name,
      h('button', { type: 'submit' }, t('save')),
    ),
  );
}

async function adminUsers(body) {
  const list = await api('GET', '/users?limit=100');
  const email = h('input', { type: 'email', id: 'user-email', required: true });
  const name = h('input', { type: 'text', id: 'user-name', required: true });
  const password = h('input', { type: 'password', id: 'user-password', required: true, autocomplete: 'new-password' });
  const unit = h('select', { id: 'user-unit' }, units.map((u) => h('option', { value: u.id }, u.name)));
  const role = h('select', { id: 'user-role' }, ['agent', 'supervisor'].map((r) => h('option', { value: r }, t(`admin.role.${r}`))));
  const admin = h('input', { type: 'checkbox', id: 'user-admin' });
  const describe = (u) => [u.is_admin ? t('admin.role.admin') : null, ...u.memberships.map((m) => `${t(`admin.role.${m.role}`)} · ${unitName(m.unit_id)}`)].filter(Boolean).join(', ');
  body.replaceChildren(
    h('table', { class: 'agents' }, h('caption', null, t('admin.users')),
      h('thead', null, h('tr', null, ['name', 'email', 'roles'].map((c) => h('th', { scope: 'col' }, t(`admin.col.${c}`))))),
      h('tbody', null, list.items.map((u) => h('tr', null, h('td', null, u.display_name), h('td', null, u.email), h('td', null, describe(u)))))),
    h(
      'form',
      {
        class: 'panel stack',
        onsubmit: async (e) => {
          e.preventDefault();
          const user = { email: email.value, display_name: name.value, password: password.value, is_admin: admin.checked, memberships: unit.value ? [{ unit_id: unit.value, role: role.value }] : [] };
          if (await attempt(() => api('POST', '/users', user), t('saved'))) adminUsers(body);
        },
      },
      h('h2', null, t('admin.new_user')),
      h('label', { for: 'user-email' }, t('login.email')),
      email,
      h('label', { for: 'user-name' }, t('admin.col.name')),
      name,
      h('label', { for: 'user-password' }, t('login.password')),
      password,
      h('label', { for: 'user-unit' }, t('admin.user_unit')),
      unit,
      h('label', { for: 'user-role' }, t('admin.col.roles')),
      role,
      h('p', null, admin, h('label', { for: 'user-admin' }, t('admin.role.admin'))),
      h('button', { type: 'submit' }, t('save')),
    ),
  );
}

const SCOPES = ['cases:read', 'cases:write', 'contacts:read', 'contacts:write', 'units:read', 'units:write', 'users:read', 'users:write', 'kb:read', 'kb:write', 'audit:read'];

async function adminTokens(body) {
  const list = await api('GET', '/api-tokens');
  const name = h('input', { type: 'text', id: 'token-name', required: true });
  const boxes = SCOPES.map((s) => h('input', { type: 'checkbox', id: `scope-${s.replace(':', '-')}`, value: s }));
  const secret = h('p', { class: 'secret', role: 'status' });
  body.replaceChildren(
    h('ul', { class: 'plain' }, list.items.map((tk) => h('li', null, h('strong', null, tk.name), ` · ${tk.scopes.join(', ')} `, tk.revoked_at ? h('span', { class: 'muted' }, t('admin.revoked')) :
      h('button', { type: 'button', class: 'ghost', onclick: async () => (await attempt(() => api('DELETE', `/api-tokens/${tk.id}`), t('admin.revoked'))) !== undefined && adminTokens(body) }, t('admin.revoke', { name: tk.name }))))),
    h(
      'form',
      {
        class: 'panel stack',
        onsubmit: async (e) => {
          e.preventDefault();
          const made = await attempt(() => api('POST', '/api-tokens', { name: name.value, scopes: boxes.filter((b) => b.checked).map((b) => b.value) }));
          if (made) secret.textContent = t('admin.secret', { secret: made.secret });
        },
      },
      h('h2', null, t('admin.new_token')),
      h('label', { for: 'token-name' }, t('admin.col.name')),
      name,
      h('fieldset', null, h('legend', null, t('admin.scopes')), boxes.map((b) => h('p', null, b, h('label', { for: b.id }, b.value)))),
      h('button', { type: 'submit' }, t('save')),
      secret,
    ),
  );
}

async function adminConsent(body) {
  const list = await api('GET', '/consent-texts');
  const purpose = h('input', { type: 'text', id: 'consent-purpose', required: true, value: 'data_processing' });
  const text = h('textarea', { id: 'consent-text', rows: 4, required: true });
  body.replaceChildren(
    h('ul', { class: 'plain' }, list.items.map((c) => h('li', null, h('strong', null, `${c.purpose} v${c.version} (${c.locale})`), h('p', null, c.text)))),
    h(
      'form',
      {
        class: 'panel stack',
        onsubmit: async (e) => {
          e.preventDefault();
          if (await attempt(() => api('POST', '/consent-texts', { purpose: purpose.value, text: text.value }), t('saved'))) adminConsent(body);
        },
      },
      h('h2', null, t('admin.new_consent')),
      h('label', { for: 'consent-purpose' }, t('admin.purpose')),
      purpose,
      h('label', { for: 'consent-text' }, t('admin.consent_text')),
      text,
      h('button', { type: 'submit' }, t('save')),
    ),
  );
}

// ---------------------------------------------------------------- keys

function showHelp() {
  const help = document.getElementById('help');
  if (!help) return;
  const keys = ['j', 'k', 'r', 'n', 'c', 'e', 't', 'g i', '?'];
  help.replaceChildren(
    h('h2', null, t('keys.title')),
    h('dl', null, keys.map((k) => [h('dt', null, h('kbd', null, k)), h('dd', null, t(`keys.${k.replace(' ', '_')}`))])),
    h('button', { type: 'button', onclick: () => (help.hidden = true) }, t('close')),
  );
  help.hidden = !help.hidden;
}

let pendingG = false;
document.addEventListener('keydown', (e) => {
  const typing = e.target.closest?.('input, textarea, select, [contenteditable]');
  if (typing || e.ctrlKey || e.metaKey || e.altKey || !me) return;
  if (e.key === 'Escape') {
    document.getElementById('help').hidden = true;
    return;
  }
  if (pendingG) {
    pendingG = false;
    if (e.key === 'i') location.hash = '#/inbox/mine';
    return;
  }
  if (e.key === 'g') {
    pendingG = true;
    return;
  }
  if (e.key === '?') return showHelp();
  const action = current?.keys?.[e.key];
  if (action) {
    e.preventDefault();
    action();
  }
});

// ---------------------------------------------------------------- go

(async () => {
  const wanted = (navigator.language || 'es').slice(0, 2);
  await loadLocale(wanted);
  if (!location.hash) location.hash = session ? '#/inbox/mine' : '#/login';
  else route();
})();
