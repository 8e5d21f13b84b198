// Shared pieces of the console: its state, words, elements, the API
// client with its session, dialogs and notices. Every view imports
// what it uses from here; no module keeps state of its own but this one's
// `ctx`, so a view that signs out or reloads the units is seen by all.

import { stopStream } from './live.js';
import { route } from './app.js';

export const root = document.getElementById('app');
export const LOCALES = ['es', 'en', 'pt'];
export const OPEN = 'queued,assigned,waiting_on_contact';
export const CHANNELS = ['whatsapp', 'messenger', 'instagram', 'telegram', 'email', 'sms', 'webchat', 'webform', 'phone', 'api', 'other'];
export const PRIORITIES = ['low', 'normal', 'high', 'urgent'];

// What the console knows now: one object, so every module sees changes.
export const ctx = {
  dict: {},
  locale: 'es',
  session: readSession(),
  me: null,
  units: [],
  users: new Map(),
  current: null, // the view on screen: { el, onEvent?, destroy? }
  unread: 0,
};

// ---------------------------------------------------------------- basics

export function t(key, vars = {}) {
  let text = ctx.dict[key] ?? key;
  for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

export function h(tag, attrs, ...children) {
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

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

export function when(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  const today = new Date().toDateString() === date.toDateString();
  return today
    ? date.toLocaleTimeString(ctx.locale, { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleString(ctx.locale, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

export function userName(id) {
  if (!id) return t('nobody');
  return ctx.users.get(id)?.display_name ?? t('someone');
}

export function unitName(id) {
  return ctx.units.find((u) => u.id === id)?.name ?? '';
}

// ---------------------------------------------------------------- session

export function readSession() {
  try {
    return JSON.parse(localStorage.getItem('ventanilla.session')) || null;
  } catch {
    return null;
  }
}

export function saveSession(tokens) {
  ctx.session = {
    access: tokens.access_token,
    refresh: tokens.refresh_token,
    expires: Date.now() + tokens.expires_in * 1000,
  };
  localStorage.setItem('ventanilla.session', JSON.stringify(ctx.session));
}

export function signOut() {
  const leaving = ctx.session;
  ctx.session = null;
  ctx.me = null;
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

export class Problem extends Error {
  constructor(status, body) {
    super(body?.detail || body?.title || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
  // A headline in the person's language (by the problem's stable code),
  // then the server's details, which are in English, marked as such.
  describe() {
    const code = this.body?.code;
    const headline = code && ctx.dict[`problem.${code}`] ? t(`problem.${code}`) : t('problem.other', { status: this.status });
    const fields = (this.body?.errors || []).map((e) => (e.field ? `${e.field}: ${e.message}` : e.message));
    let details = fields.length ? fields.join(' · ') : this.body?.detail;
    if (code === 'internal' && this.body?.request_id) details += ` · ${this.body.request_id}`;
    return h('span', null, h('strong', null, headline), details ? h('small', { lang: 'en', class: 'details' }, details) : null);
  }
}

let refreshing = null;

export function refreshTokens() {
  if (!ctx.session?.refresh) return Promise.resolve(false);
  refreshing ??= (async () => {
    try {
      const res = await fetch('/api/v1/auth/refresh', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ refresh_token: ctx.session.refresh }),
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

export async function api(method, path, body, retry = true) {
  if (ctx.session && ctx.session.expires - Date.now() < 30_000) await refreshTokens();
  const headers = { Accept: 'application/json' };
  if (ctx.session) headers.Authorization = `Bearer ${ctx.session.access}`;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body instanceof Blob) {
    headers['Content-Type'] = body.type;
    payload = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(`/api/v1${path}`, { method, headers, body: payload });
  if (res.status === 401 && retry && (await refreshTokens())) return api(method, path, body, false);
  if (res.status === 401 && ctx.session) {
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

// Fetches a file from the API (it needs the session's token) and saves it;
// a refusal is shown like any other.
export async function download(path, name) {
  if (ctx.session && ctx.session.expires - Date.now() < 30_000) await refreshTokens();
  const res = await fetch(`/api/v1${path}`, { headers: { Authorization: `Bearer ${ctx.session.access}` } });
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    return attempt(() => Promise.reject(new Problem(res.status, body)));
  }
  const url = URL.createObjectURL(await res.blob());
  const link = h('a', { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : '';
}

// ---------------------------------------------------------------- dialogs

// A modal form: `fields` are [label, control] pairs (controls have ids);
// `onSubmit` resolves true when the dialog may close.
export function formDialog(name, title, fields, submitLabel, onSubmit) {
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

export function toast(text, kind = 'info') {
  const region = document.getElementById('toasts');
  if (!region) return;
  const item = h('div', { class: `toast ${kind}` }, text);
  region.append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 4000);
}

export async function attempt(fn, done) {
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


// ---------------------------------------------------------------- start

export async function loadLocale(wanted) {
  ctx.locale = LOCALES.includes(wanted) ? wanted : 'es';
  const res = await fetch(`/console/i18n/${ctx.locale}.json`);
  ctx.dict = res.ok ? await res.json() : {};
  document.documentElement.lang = ctx.locale;
  document.title = t('title');
}

export async function loadContext() {
  ctx.me = await api('GET', '/auth/me');
  if (ctx.me.locale && ctx.me.locale !== ctx.locale) await loadLocale(ctx.me.locale);
  ctx.units = (await api('GET', '/units')).items;
  const team = await api('GET', '/agents').catch(() => ({ items: [] }));
  ctx.users = new Map([[ctx.me.id, ctx.me]]);
  for (const agent of team.items) ctx.users.set(agent.user_id, { id: agent.user_id, display_name: agent.display_name });
}

export function myUnits() {
  if (ctx.me?.is_admin) return ctx.units;
  const mine = new Set((ctx.me?.memberships || []).map((m) => m.unit_id));
  return ctx.units.filter((u) => mine.has(u.id));
}

export function supervises(unitId) {
  return ctx.me?.is_admin || (ctx.me?.memberships || []).some((m) => m.unit_id === unitId && m.role === 'supervisor');
}


export function moveFocus(list, step) {
  const links = [...list.querySelectorAll('a.subject')];
  if (!links.length) return;
  const at = links.indexOf(document.activeElement);
  const next = links[Math.max(0, Math.min(links.length - 1, at + step))];
  next.focus();
}

export function labelled(text, control) {
  const id = `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h('span', { class: 'field' }, h('label', { for: id }, text), control);
}

export function select(values, label, onChange, chosen) {
  return h(
    'select',
    { onchange: (e) => onChange(e.target.value) },
    values.map((v) => h('option', { value: v, selected: v === chosen }, label(v))),
  );
}
