// A contact's page, and the notifications list.

import { templatePicker } from './templates.js';
import { contactRequests } from './privacy.js';
import { CHANNELS, Problem, api, attempt, formDialog, h, labelled, myUnits, query, select, t, unitName, when } from './lib.js';

// ---------------------------------------------------------------- contact

// A person: their name and identities on each channel, every case they
// opened, their consent record, and who else they may be.
export async function contactView(id) {
  const el = h('div', { class: 'contact' });

  async function load() {
    const [contact, cases, consents, twins, requests] = await Promise.all([
      api('GET', `/contacts/${id}`),
      api('GET', `/cases${query({ contact_id: id, limit: 100 })}`).catch(() => ({ items: [] })),
      api('GET', `/contacts/${id}/consents`).catch(() => ({ items: [] })),
      api('GET', `/contacts/${id}/possible-duplicates`).catch(() => []),
      api('GET', `/contacts/${id}/requests`).catch(() => ({ items: [] })),
    ]);
    el.replaceChildren(...render(contact, cases.items, consents.items, twins, requests.items).filter(Boolean));
  }

  function render(contact, cases, consents, twins, requests) {
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
    const start = h('button', { type: 'button', id: 'contact-start', onclick: () => startDialog(contact) }, t('contact.start'));
    // The institution's id and attributes (program, campus, cohort...), as imports left them.
    const facts = [
      contact.external_id ? [t('contact.external_id'), contact.external_id] : null,
      ...Object.entries(contact.custom_attributes || {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
    ].filter(Boolean);
    const factList = facts.length ? h('dl', { class: 'facts', id: 'contact-facts' }, facts.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)])) : null;
    return [
      h('h1', null, contact.name || t('author.contact')),
      merged,
      contact.merged_into ? null : h('p', null, start),
      h('section', { class: 'panel', 'aria-labelledby': 'c-who' }, h('h2', { id: 'c-who' }, t('contact.details')), nameForm, factList, identities, addIdentity),
      h('section', { class: 'panel', 'aria-labelledby': 'c-cases' }, h('h2', { id: 'c-cases' }, t('contact.cases', { n: cases.length })), caseList),
      h('section', { class: 'panel', 'aria-labelledby': 'c-consent' }, h('h2', { id: 'c-consent' }, t('contact.consent')), consentList),
      h('section', { class: 'panel', 'aria-labelledby': 'c-requests' }, h('h2', { id: 'c-requests' }, t('privacy.requests')), ...contactRequests(id, requests, load)),
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

// ---------------------------------------------------------------- starting a conversation

// Staff write first: a unit, one of its channel accounts, a subject and
// the message (on WhatsApp outside the 24 hours, an approved template with
// its values). The server says why when the account cannot reach them.
async function startDialog(contact) {
  const found = await attempt(() => api('GET', '/channel-accounts'));
  if (!found) return;
  const units = myUnits();
  const unit = h('select', { id: 'start-unit' }, units.map((u) => h('option', { value: u.id }, u.name)));
  const account = h('select', { id: 'start-account', required: true });
  const subject = h('input', { type: 'text', id: 'start-subject', required: true, maxlength: 300 });
  const body = h('textarea', { id: 'start-body', rows: 4, maxlength: 4000 });
  const chosen = () => found.items.find((a) => a.id === account.value);
  // On WhatsApp outside the 24 hours: an approved template with its values.
  const templateBox = h('div', { id: 'start-templates', class: 'stack' });
  let picker = null;
  const pickAccount = () => {
    const a = chosen();
    picker = a?.sends_templates && a.templates.length ? templatePicker(a.templates, { id: 'start', none: t('contact.start_free_text') }) : null;
    templateBox.replaceChildren(...(picker ? [picker.chooser, picker.fields, picker.preview] : [h('p', { class: 'muted' }, t('case.no_templates'))]));
    templateBox.hidden = !a?.sends_templates;
  };
  const pickUnit = () => {
    const open = found.items.filter((a) => !a.unit_ids.length || a.unit_ids.includes(unit.value));
    account.replaceChildren(
      ...(open.length
        ? open.map((a) => h('option', { value: a.id }, `${a.name} · ${t(`channel.${a.channel}`)}`))
        : [h('option', { value: '' }, t('contact.start_no_accounts'))]),
    );
    pickAccount();
  };
  unit.addEventListener('change', pickUnit);
  account.addEventListener('change', pickAccount);
  pickUnit();
  formDialog(
    'start',
    t('contact.start_title', { name: contact.name || '' }),
    [
      [t('contact.start_unit'), unit],
      [t('contact.start_account'), account],
      [t('contact.start_subject'), subject],
      [t('contact.start_body'), body],
      [t('contact.start_template'), templateBox],
    ],
    t('contact.start_send'),
    async () => {
      const a = chosen();
      if (!a) return false;
      const first = { author_kind: 'agent', body: body.value };
      const tpl = picker?.value();
      if (tpl) first.template = tpl;
      const payload = {
        subject: subject.value.trim(),
        channel: a.channel,
        unit_id: unit.value,
        channel_install_id: a.id,
        contact_id: contact.id,
        first_message: first,
      };
      const created = await attempt(() => api('POST', '/cases', payload), t('contact.started'));
      if (!created) return false;
      location.hash = `#/cases/${created.id}`;
      return true;
    },
  );
}

// ---------------------------------------------------------------- notifications

export async function notificationsView() {
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
