// The audit log for admins: who did or read what, filtered by kind of
// action, person, record and period, a page at a time, and the same
// selection downloaded as CSV (the download itself is recorded).

import { api, download, h, query, t, userName, when } from './lib.js';

// Families of actions an admin looks for most (an action, or all those
// starting `x.`), each with the name of its label.
const FAMILIES = [
  ['', 'all'],
  ['auth.', 'sign_ins'],
  ['user.', 'accounts'],
  ['case.read', 'case_reads'],
  ['contact.consents_read', 'consent_reads'],
  ['data_export.downloaded', 'data_exports'],
  ['report.exported', 'report_exports'],
  ['audit.', 'audit'],
  ['case.', 'cases'],
  ['contact.', 'contacts'],
  ['consent.', 'consents'],
  ['unit.', 'units'],
];

function who(e) {
  if (e.actor_kind === 'user') return userName(e.actor_id) || e.actor_id;
  if (e.actor_kind === 'system') return t('audit.system');
  return `${t(`audit.actor.${e.actor_kind}`)} ${e.actor_id}`;
}

// Only the details a person reads at a glance; the CSV has them all.
function summary(details) {
  if (!details || typeof details !== 'object') return '';
  return Object.entries(details)
    .filter(([, v]) => v !== null && typeof v !== 'object')
    .slice(0, 6)
    .map(([k, v]) => `${k}: ${v}`)
    .join(' · ');
}

// The record an entry is about: cases and people are a link away.
function about(e) {
  const text = `${e.target_kind} ${e.target_id}`;
  if (e.target_kind === 'case') return h('a', { href: `#/cases/${e.target_id}` }, text);
  if (e.target_kind === 'contact') return h('a', { href: `#/contacts/${e.target_id}` }, text);
  return text;
}

export async function adminAudit(body) {
  const family = h('select', { id: 'audit-action' }, FAMILIES.map(([value, name]) => h('option', { value }, t(`audit.family.${name}`))));
  const target = h('input', { id: 'audit-target', type: 'text', placeholder: t('audit.target_hint') });
  const since = h('input', { id: 'audit-since', type: 'date' });
  const until = h('input', { id: 'audit-until', type: 'date' });
  const list = h('div', { id: 'audit-list' });
  let cursor = null;

  const params = () => {
    const day = (input, end) => {
      if (!input.value) return null;
      const at = new Date(`${input.value}T00:00:00`);
      if (end) at.setDate(at.getDate() + 1);
      return at.toISOString();
    };
    return { action: family.value, target_id: target.value.trim(), since: day(since, false), until: day(until, true) };
  };

  async function load(more) {
    const page = await api('GET', `/audit-events${query({ ...params(), limit: 50, cursor: more ? cursor : null })}`);
    cursor = page.next_cursor;
    const rows = page.items.map((e) =>
      h(
        'tr',
        { 'data-action': e.action },
        h('td', null, when(e.at)),
        h('td', null, who(e)),
        h('td', null, h('code', null, e.action)),
        h('td', null, about(e)),
        h('td', null, summary(e.details)),
      ),
    );
    let table = list.querySelector('table');
    if (!more || !table) {
      table = h(
        'table',
        { class: 'agents audit' },
        h('caption', { class: 'sr-only' }, t('admin.audit')),
        h('thead', null, h('tr', null, ['at', 'who', 'action', 'target', 'details'].map((c) => h('th', { scope: 'col' }, t(`audit.col.${c}`))))),
        h('tbody'),
      );
      list.replaceChildren(table);
    }
    table.querySelector('tbody').append(...rows);
    if (!page.items.length && !more) list.replaceChildren(h('p', { class: 'empty' }, t('audit.none')));
    const next = h('button', { type: 'button', class: 'ghost', id: 'audit-more', onclick: () => load(true) }, t('audit.more'));
    list.querySelector('#audit-more')?.remove();
    if (cursor) list.append(next);
  }

  const form = h(
    'form',
    {
      class: 'filters',
      id: 'audit-filters',
      onsubmit: async (e) => {
        e.preventDefault();
        await load(false);
      },
    },
    h('label', { for: 'audit-action' }, t('audit.action')),
    family,
    h('label', { for: 'audit-target' }, t('audit.target')),
    target,
    h('label', { for: 'audit-since' }, t('audit.since')),
    since,
    h('label', { for: 'audit-until' }, t('audit.until')),
    until,
    h('button', { type: 'submit' }, t('audit.search')),
    h(
      'button',
      { type: 'button', class: 'ghost', id: 'audit-csv', onclick: () => download(`/audit-events/export${query(params())}`, 'registro-de-auditoria.csv') },
      t('audit.csv'),
    ),
  );
  body.replaceChildren(h('p', { class: 'hint' }, t('audit.intro')), form, list);
  await load(false);
}
