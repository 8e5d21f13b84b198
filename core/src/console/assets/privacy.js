// Data-subject requests (habeas data): the queue of the units that answer
// them, soonest deadline first with a warning before it, and the requests
// of one person, filed from their contact page.

import { api, attempt, ctx, formDialog, h, query, select, t, unitName, when } from './lib.js';

const KINDS = ['access', 'rectification', 'erasure', 'revocation'];

// An erasure request: what would go (a dry run, with any legal hold that
// stops it), then, confirmed, the erasure itself.
async function erase(r, reload) {
  const path = `/data-requests/${r.id}/erase`;
  const plan = await attempt(() => api('POST', path, { dry_run: true }));
  if (!plan) return;
  const counts = ['cases', 'messages', 'notes', 'files', 'identities', 'survey_comments', 'exports'];
  const summary = h('ul', { id: 'erase-plan', class: 'plain' }, counts.map((k) => h('li', null, `${t(`privacy.erase_${k}`)}: ${plan[k]}`)));
  const held = plan.legal_hold ? h('p', { class: 'notice' }, t('privacy.erase_held', { reason: plan.legal_hold })) : null;
  const confirm = h('input', { type: 'checkbox', id: 'erase-confirm', required: true });
  const fields = [[t('privacy.erase_plan'), h('div', { id: 'erase-summary' }, held, summary)], [t('privacy.erase_confirm'), confirm]];
  formDialog('erase', t('privacy.erase_title'), fields, t('privacy.erase'), async () => {
    const done = await attempt(() => api('POST', path, {}), t('privacy.erase_started'));
    if (done) await reload();
    return Boolean(done);
  });
}

// An access request's export: ask for it, see it being made, or the
// one-time link to hand to the person. An erasure request: erase.
function exportNode(r, reload) {
  if (r.kind === 'erasure') return h('button', { type: 'button', class: 'ghost', 'data-erase': r.id, onclick: () => erase(r, reload) }, t('privacy.erase'));
  if (r.kind !== 'access') return null;
  const e = r.export;
  if (e?.download_url) return h('a', { href: e.download_url, class: 'export-link', download: '' }, t('privacy.download_once'));
  if (e?.status === 'pending') return h('span', { class: 'muted' }, t('privacy.export_pending'));
  const ask = async () => (await attempt(() => api('POST', `/data-requests/${r.id}/export`), t('privacy.export_asked'))) && reload();
  return h(
    'span',
    null,
    e?.status === 'downloaded' ? h('span', { class: 'muted' }, `${t('privacy.export_downloaded')} `) : null,
    e?.status === 'failed' ? h('span', { class: 'badge urgency-overdue' }, t('privacy.export_failed')) : null,
    h('button', { type: 'button', class: 'ghost', 'data-export': r.id, onclick: ask }, t('privacy.export')),
  );
}

// One request as a table row; `answer` is given for the queue's rows.
function row(r, answer, reload) {
  const urgency = r.urgency ? h('span', { class: `badge urgency-${r.urgency}` }, t(`privacy.urgency_${r.urgency}`)) : null;
  return h(
    'tr',
    { 'data-request': r.id },
    h('td', null, t(`privacy.kind_${r.kind}`)),
    h('td', null, answer ? h('a', { href: `#/contacts/${r.contact_id}` }, t('privacy.person')) : unitName(r.unit_id)),
    h('td', null, h('time', { datetime: r.received_at }, when(r.received_at))),
    h('td', null, h('time', { datetime: r.due_at }, when(r.due_at)), ' ', urgency),
    h('td', { class: 'details' }, r.resolution || r.details || ''),
    h(
      'td',
      null,
      answer && r.status === 'open'
        ? [
            h('button', { type: 'button', class: 'ghost', 'data-answer': 'done', onclick: () => answer(r, 'done') }, t('privacy.done')),
            h('button', { type: 'button', class: 'ghost', 'data-answer': 'refused', onclick: () => answer(r, 'refused') }, t('privacy.refuse')),
          ]
        : t(`privacy.status_${r.status}`),
    ),
    h('td', null, answer ? exportNode(r, reload) : null),
  );
}

function table(requests, answer, reload) {
  const heads = ['privacy.kind', answer ? 'privacy.person' : 'privacy.unit', 'privacy.received', 'privacy.due', 'privacy.details', 'privacy.status', 'privacy.data'];
  return h(
    'table',
    { class: 'grid requests' },
    h('thead', null, h('tr', null, heads.map((k) => h('th', { scope: 'col' }, t(k))))),
    h('tbody', null, requests.map((r) => row(r, answer, reload))),
  );
}

// The queue: open requests of the caller's units, or the answered ones.
export async function requestsView() {
  const list = h('div', { id: 'requests' });
  let status = 'open';
  const filter = select(['open', 'done', 'refused'], (v) => t(`privacy.status_${v}`), (v) => ((status = v), load()), status);
  filter.id = 'request-status';
  const el = h(
    'section',
    { class: 'page' },
    h('h1', null, t('privacy.title')),
    h('p', { class: 'muted' }, t('privacy.intro')),
    h('label', { for: 'request-status' }, t('privacy.status')),
    filter,
    list,
  );

  function answer(r, outcome) {
    const resolution = h('textarea', { id: 'request-resolution', rows: 4, required: true, maxlength: 5000 });
    const title = t(outcome === 'done' ? 'privacy.done_title' : 'privacy.refuse_title');
    formDialog('answer', title, [[t('privacy.resolution'), resolution]], t('save'), async () => {
      const body = { status: outcome, resolution: resolution.value };
      const done = await attempt(() => api('PATCH', `/data-requests/${r.id}`, body), t('saved'));
      if (done) await load();
      return Boolean(done);
    });
  }

  async function load() {
    const found = await attempt(() => api('GET', `/data-requests${query({ status })}`));
    if (!found) return;
    list.replaceChildren(found.items.length ? table(found.items, answer, load) : h('p', { class: 'empty' }, t('privacy.none')));
  }

  await load();
  return { el, onEvent: (e) => e.kind === 'resync' && load() };
}

// A person's requests on their contact page, and a form to file one.
export function contactRequests(contactId, requests, reload) {
  const kind = select(KINDS, (v) => t(`privacy.kind_${v}`), () => {}, 'access');
  const details = h('textarea', { rows: 2, maxlength: 5000 });
  const received = h('input', { type: 'date' });
  const file = async () => {
    const body = { kind: kind.value, details: details.value };
    if (received.value) body.received_at = new Date(`${received.value}T12:00:00`).toISOString();
    const done = await attempt(() => api('POST', `/contacts/${contactId}/requests`, body), t('privacy.filed'));
    if (done) await reload();
    return Boolean(done);
  };
  kind.id = 'request-kind';
  details.id = 'request-details';
  received.id = 'request-received';
  const open = () =>
    formDialog('request', t('privacy.file'), [[t('privacy.kind'), kind], [t('privacy.details'), details], [t('privacy.received'), received]], t('save'), file);
  return [
    requests.length ? table(requests, null) : h('p', { class: 'muted' }, t('privacy.none')),
    h('button', { type: 'button', class: 'ghost', id: 'file-request', onclick: open }, t('privacy.file')),
  ];
}

// A unit's data-protection settings, for its supervisors: whether the host
// asks for the authorisation, and how long cases keep people's data (per
// channel overrides stay as the API set them).
export function unitPrivacyForm(unit, reload) {
  const p = unit.privacy;
  const ask = h('input', { type: 'checkbox', id: 'privacy-ask', checked: p.ask_consent });
  // Whether opening the unit's cases is recorded: admins decide.
  const reads = ctx.me?.is_admin ? h('input', { type: 'checkbox', id: 'privacy-reads', checked: p.record_reads }) : null;
  const months = (id, value) => h('input', { type: 'number', id, min: 1, max: 1200, value: value == null ? '' : String(value) });
  const anonymise = months('privacy-anonymise', p.retention.anonymise_after_months);
  const files = months('privacy-files', p.retention.files_after_months);
  const number = (input) => (input.value === '' ? null : Number(input.value));
  return h(
    'form',
    {
      class: 'privacy',
      onsubmit: async (e) => {
        e.preventDefault();
        const privacy = { ...p, ask_consent: ask.checked, retention: { anonymise_after_months: number(anonymise), files_after_months: number(files) } };
        if (reads) privacy.record_reads = reads.checked;
        if (await attempt(() => api('PATCH', `/units/${unit.id}`, { privacy }), t('saved'))) await reload();
      },
    },
    h('h2', null, t('privacy.unit_title')),
    h('p', null, ask, h('label', { for: 'privacy-ask' }, t('privacy.ask_consent'))),
    reads ? h('p', null, reads, h('label', { for: 'privacy-reads' }, t('privacy.record_reads'))) : null,
    h('label', { for: 'privacy-anonymise' }, t('privacy.anonymise_after')),
    anonymise,
    h('label', { for: 'privacy-files' }, t('privacy.files_after')),
    files,
    h('button', { type: 'submit', id: 'save-privacy' }, t('save')),
  );
}
