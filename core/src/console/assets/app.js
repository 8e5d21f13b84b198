// Ventanilla's console for agents, supervisors and admins: ES modules,
// no build step and no third-party code, served from the binary so it
// works on a closed network. This module draws the frame, routes between
// the views (one module each) and handles the keyboard. Everything shown
// comes from the REST API with the signed-in user's token; text from the
// API is always inserted as text, never as HTML.

import { Problem, api, attempt, ctx, h, loadContext, loadLocale, root, saveSession, select, signOut, supervises, t } from './lib.js';
import { startStream } from './live.js';
import { inboxView } from './inbox.js';
import { caseView } from './case.js';
import { contactView, notificationsView } from './contact.js';
import { unitView } from './unit.js';
import { adminView } from './admin.js';
import { requestsView } from './privacy.js';
import { reportsView, wallboardView } from './reports.js';
import { campaignView, campaignsView } from './campaigns.js';
import { securityView } from './security.js';

// ---------------------------------------------------------------- shell

export function shell() {
  const nav = [h('a', { href: '#/inbox/mine' }, t('nav.inbox'))];
  const supervised = ctx.units.filter((u) => supervises(u.id));
  if (supervised.length) nav.push(h('a', { href: `#/units/${supervised[0].id}` }, t('nav.unit')));
  // Data-subject requests are answered by supervisors of the designated unit and admins.
  if (supervised.length) nav.push(h('a', { href: '#/privacy' }, t('nav.privacy')));
  if (supervised.length || ctx.me.is_admin) nav.push(h('a', { href: '#/campaigns' }, t('nav.campaigns')));
  nav.push(h('a', { href: '#/reports' }, t('nav.reports')));
  if (ctx.me.is_admin) nav.push(h('a', { href: '#/admin/plugins' }, t('nav.admin')));
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
        ctx.unread = 0;
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
      h('a', { class: 'who', href: '#/security', title: t('nav.security') }, ctx.me.display_name),
      h('button', { type: 'button', class: 'ghost', id: 'sign-out', onclick: signOut }, t('sign_out')),
    ),
    h('main', { id: 'main', tabindex: '-1' }),
    h('div', { id: 'toasts', role: 'status', 'aria-live': 'polite' }),
    h('div', { id: 'help', hidden: true }),
  );
}

export function renderUnread() {
  const badge = document.getElementById('unread');
  if (!badge) return;
  badge.hidden = ctx.unread === 0;
  badge.textContent = String(ctx.unread);
}

export async function renderPresence(value) {
  const select = document.getElementById('presence');
  if (select && value) select.value = value;
}

export async function setPresence(value) {
  const agent = await attempt(() => api('PUT', '/agents/me/presence', { presence: value }));
  if (agent) renderPresence(agent.presence);
}

// ---------------------------------------------------------------- router

export const routes = [
  [/^#\/cases\/([0-9a-f-]+)$/, (m) => caseView(m[1])],
  [/^#\/contacts\/([0-9a-f-]+)$/, (m) => contactView(m[1])],
  [/^#\/units\/([0-9a-f-]+)$/, (m) => unitView(m[1])],
  [/^#\/notifications$/, () => notificationsView()],
  [/^#\/privacy$/, () => requestsView()],
  [/^#\/reports$/, () => reportsView()],
  [/^#\/campaigns$/, () => campaignsView()],
  [/^#\/campaigns\/([0-9a-f-]+)$/, (m) => campaignView(m[1])],
  [/^#\/wallboard$/, () => wallboardView()],
  [/^#\/security$/, () => securityView()],
  [/^#\/admin\/(\w+)$/, (m) => adminView(m[1])],
  [/^#\/inbox\/([\w-]+)$/, (m) => inboxView(m[1])],
];

let routeSeq = 0;
let booting = null;
let onlineOnBoot = false;

// Reads who is signed in and draws the frame around the views, once.
export async function ensureShell() {
  if (ctx.me) return true;
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
  } catch (e) {
    if (e instanceof Problem && e.body?.code === 'two_factor_enrolment_required') {
      // An administrator this server holds back until they enrol: that alone.
      ctx.me = null;
      const view = await securityView({
        required: true,
        done: () => {
          ctx.me = null;
          route();
        },
      });
      root.replaceChildren(h('main', { id: 'main' }, view.el));
      return false;
    }
    if (ctx.session) root.replaceChildren(h('p', { class: 'fatal' }, t('error.network')));
    return false;
  }
}

export async function route() {
  const seq = ++routeSeq;
  const handoff = location.hash.match(/^#\/sso\/([\w-]+)$/);
  if (handoff) return collectSignIn(handoff[1]);
  if (!ctx.session) {
    ctx.current?.destroy?.();
    ctx.current = null;
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
  ctx.current?.destroy?.();
  ctx.current = view;
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

/// Back from the identity provider: the one-time code becomes this
/// console's tokens (and leaves the address and the history at once).
async function collectSignIn(code) {
  history.replaceState(null, '', '#/login');
  try {
    const res = await fetch('/api/v1/auth/sso/exchange', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code }),
    });
    if (!res.ok) throw new Error(String(res.status));
    saveSession(await res.json());
    ctx.me = null;
    onlineOnBoot = true;
    location.hash = '#/inbox/mine';
  } catch {
    ctx.session = null;
    const view = loginView();
    view.querySelector('.error').textContent = t('login.sso_failed');
    root.replaceChildren(view);
  }
}

/// The providers' buttons above the password form (which folds away as
/// emergency access when the institution signs in only through them).
async function addProviders(form, error) {
  const options = await fetch('/api/v1/auth/providers')
    .then((r) => (r.ok ? r.json() : null))
    .catch(() => null);
  if (!options?.providers?.length) return;
  const buttons = h(
    'div',
    { class: 'stack sso' },
    options.providers.map((p) =>
      h('a', { class: 'button primary', href: p.start_url, id: `sso-${p.id}` }, t('login.sso_with', { name: p.name })),
    ),
  );
  const fields = [...form.children].filter((el) => el.tagName !== 'H1' && el !== error);
  if (options.sso_required) {
    const local = h('details', { class: 'break-glass' }, h('summary', null, t('login.break_glass')), fields);
    form.append(buttons, error, local);
    error.textContent = '';
  } else {
    form.insertBefore(buttons, form.children[1]);
    form.insertBefore(h('p', { class: 'hint' }, t('login.or')), buttons.nextSibling);
  }
}

export function loginView() {
  const error = h('p', { class: 'error', role: 'alert' });
  const email = h('input', { id: 'email', type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', {
    id: 'password',
    type: 'password',
    name: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  // Shown once the server says the account has a second factor.
  const code = h('input', { id: 'code', name: 'code', autocomplete: 'one-time-code', 'aria-describedby': 'code-hint' });
  const codeField = h(
    'div',
    { class: 'stack', hidden: true },
    h('label', { for: 'code' }, t('login.code')),
    h('small', { id: 'code-hint', class: 'hint' }, t('login.code_hint')),
    code,
  );
  const form = h(
    'form',
    {
      class: 'login',
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = '';
        const body = { email: email.value, password: password.value };
        if (!codeField.hidden && code.value.trim()) body.code = code.value.trim();
        try {
          const res = await fetch('/api/v1/auth/login', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify(body),
          });
          if (!res.ok) {
            const problem = await res.json().catch(() => null);
            if (problem?.code === 'two_factor_required') {
              const asked = codeField.hidden;
              codeField.hidden = false;
              code.required = true;
              error.textContent = asked ? t('login.code_needed') : t('login.code_failed');
              code.value = '';
              code.focus();
              return;
            }
            if (problem?.code === 'sso_required') {
              error.textContent = t('login.sso_required');
              return;
            }
            error.textContent = res.status === 429 ? t('login.limited') : t('login.failed');
            return;
          }
          saveSession(await res.json());
          ctx.me = null;
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
    codeField,
    error,
    h('button', { type: 'submit' }, t('login.submit')),
  );
  addProviders(form, error);
  return h('main', { class: 'center' }, form);
}

// ---------------------------------------------------------------- keys

export function showHelp() {
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
  if (typing || e.ctrlKey || e.metaKey || e.altKey || !ctx.me) return;
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
  const action = ctx.current?.keys?.[e.key];
  if (action) {
    e.preventDefault();
    action();
  }
});

// ---------------------------------------------------------------- go

(async () => {
  const wanted = (navigator.language || 'es').slice(0, 2);
  await loadLocale(wanted);
  if (!location.hash) location.hash = ctx.session ? '#/inbox/mine' : '#/login';
  else route();
})();
