// Campaigns, for supervisors and admins: segments (who), campaigns (what,
// through which account), a test send to oneself, launch, pause, resume,
// cancel, and each person's status, read again every two seconds while a
// campaign is live.

import { api, attempt, ctx, formDialog, h, query, select, supervises, t, unitName, when } from './lib.js';
import { templatePicker } from './templates.js';

const STATUSES = ['queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'replied', 'opted_out', 'skipped'];
const REACH = ['whatsapp', 'sms', 'email', 'telegram'];

// The units the caller keeps campaigns for.
function keptUnits() {
  return ctx.units.filter((u) => ctx.me.is_admin || supervises(u.id));
}

function unitSelect(id, withInstitution) {
  const units = keptUnits().map((u) => u.id);
  const values = withInstitution && ctx.me.is_admin ? ['', ...units] : units;
  const choice = select(values, (v) => (v ? unitName(v) : t('campaign.institution')), () => {}, values[0]);
  choice.id = id;
  return choice;
}

// A segment from the form's few fields: an attribute and its values, a
// channel people can be reached on, and (by default) a standing grant.
function segmentDialog(reload) {
  const name = h('input', { id: 'segment-name', required: true, maxlength: 120 });
  const unit = unitSelect('segment-unit', true);
  const key = h('input', { id: 'segment-key', placeholder: 'programa', pattern: '[a-z0-9_]+' });
  const values = h('input', { id: 'segment-values', placeholder: 'Medicina, Enfermería' });
  const channel = select(['', ...REACH], (v) => (v ? t(`channel.${v}`) : t('campaign.any_channel')), () => {}, '');
  channel.id = 'segment-channel';
  const consent = h('input', { type: 'checkbox', id: 'segment-consent', checked: true });
  const count = h('output', { id: 'segment-count', class: 'muted' });
  const filter = () => {
    const f = {};
    const listed = values.value.split(',').map((v) => v.trim()).filter(Boolean);
    if (key.value.trim() && listed.length) f.attributes = [{ key: key.value.trim(), in: listed }];
    if (channel.value) f.channels = [channel.value];
    if (consent.checked) f.consent = [{ purpose: 'broadcasts', state: 'granted' }];
    return f;
  };
  const preview = async () => {
    const found = await attempt(() => api('POST', '/segments/preview', { unit_id: unit.value || null, filter: filter() }));
    if (found) count.textContent = t('campaign.people', { n: found.total });
  };
  const fields = [
    [t('campaign.segment_name'), name],
    [t('campaign.unit'), unit],
    [t('campaign.attribute'), key],
    [t('campaign.values'), values],
    [t('campaign.reachable_on'), channel],
    [t('campaign.with_consent'), consent],
    [t('campaign.preview'), h('span', null, h('button', { type: 'button', class: 'ghost', id: 'segment-preview', onclick: preview }, t('campaign.count')), ' ', count)],
  ];
  formDialog('segment', t('campaign.new_segment'), fields, t('save'), async () => {
    const body = { name: name.value, unit_id: unit.value || null, filter: filter() };
    const done = await attempt(() => api('POST', '/segments', body), t('saved'));
    if (done) await reload();
    return Boolean(done);
  });
}

// The message fields for an account: a template picker filling every
// parameter with a preview (WhatsApp), a subject (e-mail) and a body.
function messageFields(account) {
  if (account?.channel === 'whatsapp') {
    const templates = account.templates || [];
    const picker = templatePicker(templates, { id: 'campaign', first: '{{name}}' });
    const read = () => (picker.chosen() ? { template: picker.value() } : {});
    const rows = templates.length
      ? [[t('campaign.template'), picker.chooser], [t('campaign.parameters'), picker.fields], [t('campaign.preview'), picker.preview]]
      : [[t('campaign.template'), h('p', { class: 'notice' }, t('campaign.no_templates'))]];
    return { rows, read };
  }
  const subject = h('input', { id: 'campaign-subject', maxlength: 200, 'aria-label': t('campaign.subject') });
  const body = h('textarea', { id: 'campaign-body', rows: 4, maxlength: 4000, placeholder: t('campaign.body_hint'), 'aria-label': t('campaign.body') });
  const rows = account?.channel === 'email' ? [[t('campaign.subject'), subject]] : [];
  rows.push([t('campaign.body'), body]);
  return { rows, read: () => (account?.channel === 'email' ? { subject: subject.value, body: body.value } : { body: body.value }) };
}

async function campaignDialog(segments, reload) {
  const name = h('input', { id: 'campaign-name', required: true, maxlength: 120 });
  const unit = unitSelect('campaign-unit', false);
  const segment = select(segments.map((s) => s.id), (id) => segments.find((s) => s.id === id)?.name || id, () => {}, segments[0]?.id);
  segment.id = 'campaign-segment';
  const accounts = (await attempt(() => api('GET', `/channel-accounts${query({ unit_id: unit.value })}`)))?.items || [];
  const usable = accounts.filter((a) => REACH.includes(a.channel));
  const account = select(usable.map((a) => a.id), (id) => usable.find((a) => a.id === id)?.name || id, () => redraw(), usable[0]?.id);
  account.id = 'campaign-account';
  const starts = h('input', { type: 'datetime-local', id: 'campaign-starts' });
  const message = h('div', { id: 'campaign-message' });
  let fields = messageFields(usable[0]);
  function redraw() {
    fields = messageFields(usable.find((a) => a.id === account.value));
    message.replaceChildren(...fields.rows.map(([label, control]) => h('div', { class: 'field' }, h('span', { class: 'label' }, label), control)));
  }
  redraw();
  const rows = [
    [t('campaign.name'), name],
    [t('campaign.unit'), unit],
    [t('campaign.segment'), segment],
    [t('campaign.account'), account],
    [t('campaign.message'), message],
    [t('campaign.starts_at'), starts],
  ];
  formDialog('campaign', t('campaign.new'), rows, t('campaign.save_draft'), async () => {
    const body = { name: name.value, unit_id: unit.value, segment_id: segment.value, channel_install_id: account.value, message: fields.read() };
    if (starts.value) body.starts_at = new Date(starts.value).toISOString();
    const done = await attempt(() => api('POST', '/campaigns', body), t('saved'));
    if (done) location.hash = `#/campaigns/${done.id}`;
    return Boolean(done);
  });
}

// People from a spreadsheet (admins): a CSV with an external id per row,
// their numbers and addresses, attributes, and consent columns with the
// text version they saw; a trial run first says what would change.
function importDialog(into) {
  const file = h('input', { type: 'file', id: 'import-file', accept: '.csv,text/csv', required: true });
  const version = h('input', { type: 'text', id: 'import-version', maxlength: 64, placeholder: 'v1' });
  const day = h('input', { type: 'date', id: 'import-date' });
  const trial = h('input', { type: 'checkbox', id: 'import-trial', checked: true });
  const rows = [
    [t('campaign.import_file'), file],
    [t('campaign.import_version'), version],
    [t('campaign.import_date'), day],
    [t('campaign.import_trial'), trial],
  ];
  formDialog('import', t('campaign.import'), rows, t('campaign.import_go'), async () => {
    const chosen = file.files[0];
    if (!chosen) return false;
    const params = query({ file_name: chosen.name, text_version: version.value.trim(), given_at: day.value, dry_run: trial.checked ? 'true' : '' });
    const report = await attempt(() => api('POST', `/contacts/import${params}`, new Blob([chosen], { type: 'text/csv' })));
    if (!report) return false;
    const errors = report.errors.map((e) => h('tr', null, h('td', null, String(e.line)), h('td', null, e.field), h('td', null, e.detail)));
    into.replaceChildren(
      h(
        'section',
        { class: 'panel', id: 'import-result', 'aria-live': 'polite' },
        h('h2', null, t(report.dry_run ? 'campaign.import_tried' : 'campaign.import_done', { name: chosen.name })),
        h('p', { id: 'import-counts' }, t('campaign.import_counts', report)),
        report.attributes.length ? h('p', { class: 'muted' }, t('campaign.import_attributes', { keys: report.attributes.join(', ') })) : null,
        report.errors_left_out ? h('p', { class: 'warn' }, t('campaign.import_more_errors', { n: report.errors_left_out })) : null,
        grid(['campaign.col.line', 'campaign.col.field', 'campaign.col.detail'], errors, 'campaign.import_no_errors'),
      ),
    );
    return true;
  });
}

// A table with a header of `heads` (locale keys), or `empty` when no rows.
function grid(heads, rows, empty) {
  if (!rows.length) return h('p', { class: 'empty' }, t(empty));
  return h('table', { class: 'grid' }, h('thead', null, h('tr', null, heads.map((k) => h('th', { scope: 'col' }, t(k))))), h('tbody', null, rows));
}

function progress(c) {
  const r = c.recipients;
  const done = r.total - r.queued - r.sending;
  return `${done} / ${r.total}`;
}

// Campaigns and segments of the caller's units.
export async function campaignsView() {
  const list = h('div', { id: 'campaigns' });
  const segmentList = h('div', { id: 'segments' });
  const imported = h('div', { id: 'imported' });
  let segments = [];
  const el = h(
    'section',
    { class: 'page' },
    h('h1', null, t('campaign.title')),
    h('p', { class: 'muted' }, t('campaign.intro')),
    h(
      'p',
      null,
      h('button', { type: 'button', id: 'new-segment', onclick: () => segmentDialog(load) }, t('campaign.new_segment')),
      ' ',
      h('button', { type: 'button', id: 'new-campaign', onclick: () => campaignDialog(segments, load) }, t('campaign.new')),
      ctx.me.is_admin ? [' ', h('button', { type: 'button', class: 'ghost', id: 'import-people', onclick: () => importDialog(imported) }, t('campaign.import'))] : null,
    ),
    imported,
    list,
    h('h2', null, t('campaign.segments')),
    segmentList,
  );

  async function load() {
    const [campaigns, found] = await Promise.all([attempt(() => api('GET', '/campaigns')), attempt(() => api('GET', '/segments'))]);
    if (!campaigns || !found) return;
    segments = found.items;
    const heads = ['campaign.name', 'campaign.unit', 'campaign.status', 'campaign.progress', 'campaign.created'];
    const row = (c) =>
      h(
        'tr',
        { 'data-campaign': c.id },
        h('td', null, h('a', { href: `#/campaigns/${c.id}` }, c.name)),
        h('td', null, unitName(c.unit_id)),
        h('td', null, t(`campaign.status_${c.status}`)),
        h('td', null, progress(c)),
        h('td', null, h('time', { datetime: c.created_at }, when(c.created_at))),
      );
    list.replaceChildren(grid(heads, campaigns.items.map(row), 'campaign.none'));
    segmentList.replaceChildren(
      segments.length
        ? h('ul', { class: 'plain' }, segments.map((s) => h('li', { 'data-segment': s.id }, `${s.name} · ${s.unit_id ? unitName(s.unit_id) : t('campaign.institution')}`)))
        : h('p', { class: 'empty' }, t('campaign.no_segments')),
    );
  }

  await load();
  return { el, onEvent: (e) => e.kind === 'resync' && load() };
}

// One campaign: what it says, its counts and people, and what can be done with it.
export async function campaignView(id) {
  const head = h('div', { id: 'campaign-head' });
  const counts = h('dl', { id: 'campaign-counts', class: 'tiles' });
  const actions = h('p', { id: 'campaign-actions' });
  const people = h('div', { id: 'campaign-recipients' });
  const el = h('section', { class: 'page' }, h('p', null, h('a', { href: '#/campaigns' }, t('campaign.title'))), head, actions, counts, people);
  let timer = null;

  const act = async (action) => {
    const done = await attempt(() => api('POST', `/campaigns/${id}/${action}`), t(`campaign.done_${action}`));
    if (done) await load();
  };
  const test = () => {
    const address = h('input', { id: 'test-address', required: true, maxlength: 320 });
    formDialog('test', t('campaign.test_title'), [[t('campaign.test_address'), address]], t('campaign.test_send'), async () =>
      Boolean(await attempt(() => api('POST', `/campaigns/${id}/test`, { address: address.value }), t('campaign.test_sent'))),
    );
  };

  async function load() {
    const [c, found] = await Promise.all([attempt(() => api('GET', `/campaigns/${id}`)), attempt(() => api('GET', `/campaigns/${id}/recipients${query({ limit: 100 })}`))]);
    if (!c || !found) return;
    const m = c.message;
    const said = m.template ? `${m.template.name} (${m.template.language}): ${m.template.parameters.join(' · ')}` : [m.subject, m.body].filter(Boolean).join(' — ');
    head.replaceChildren(
      h('h1', null, c.name),
      h('p', null, h('span', { id: 'campaign-status', class: `badge status-${c.status}` }, t(`campaign.status_${c.status}`)), ' ', `${unitName(c.unit_id)} · ${t(`channel.${c.channel}`)} · ${c.purpose}`),
      h('p', { class: 'preview' }, said),
    );
    const button = (action) => h('button', { type: 'button', class: action === 'cancel' ? 'ghost danger' : '', id: `campaign-${action}`, onclick: () => act(action) }, t(`campaign.${action}`));
    const can = { draft: ['launch', 'cancel'], scheduled: ['pause', 'cancel'], running: ['pause', 'cancel'], paused: ['resume', 'cancel'] }[c.status] || [];
    actions.replaceChildren(h('button', { type: 'button', class: 'ghost', id: 'campaign-test', onclick: test }, t('campaign.test')), ' ', ...can.map(button));
    counts.replaceChildren(
      ...STATUSES.map((s) => h('div', { class: 'tile' }, h('dt', null, t(`campaign.recipient_${s}`)), h('dd', { 'data-count': s }, String(c.recipients[s])))),
    );
    const heads = ['campaign.person', 'campaign.address', 'campaign.status', 'campaign.reason'];
    const status = (r) => t(`campaign.recipient_${r.status}`);
    const row = (r) =>
      h(
        'tr',
        { 'data-recipient': r.contact_id, 'data-status': r.status },
        h('td', null, h('a', { href: `#/contacts/${r.contact_id}` }, r.contact_name || t('campaign.person'))),
        h('td', null, r.address || ''),
        h('td', null, r.reply_case_id ? h('a', { href: `#/cases/${r.reply_case_id}` }, status(r)) : status(r)),
        h('td', { class: 'details' }, r.reason || ''),
      );
    people.replaceChildren(grid(heads, found.items.map(row), 'campaign.no_recipients'));
    clearTimeout(timer);
    if (['scheduled', 'running'].includes(c.status)) timer = setTimeout(load, 2000);
  }

  await load();
  return { el, destroy: () => clearTimeout(timer) };
}
