// The person's authorisation to process their data (habeas data), as a
// case shows it: the latest record stands. Staff record one given by
// phone, in person or in writing, against the consent text in force.

import { api, attempt, ctx, formDialog, h, query, select, t, when } from './lib.js';

// The purpose staff record on a case: the processing of the person's data.
const PURPOSE = 'data_processing';

// `state` is the case view's (`c`, `consents`); `reload` redraws it.
export function consentNode(state, reload) {
  const records = (state.consents || []).filter((r) => r.purpose === PURPOSE);
  const last = records[records.length - 1];
  const status = !last ? 'missing' : last.action === 'grant' ? 'granted' : 'refused';
  return h(
    'div',
    { class: `consent-status ${status}`, id: 'consent-status' },
    h('p', null, last ? t(`case.consent_${status}`, { at: when(last.recorded_at), version: last.text_version }) : t('case.consent_missing')),
    h('button', { type: 'button', class: 'ghost', id: 'record-consent', onclick: () => record(state, reload) }, t('case.record_consent')),
  );
}

async function record(state, reload) {
  const text = await attempt(() => api('GET', `/consent-texts/current${query({ purpose: PURPOSE, locale: ctx.locale })}`));
  if (!text) return;
  const action = select(['grant', 'revoke'], (v) => t(`case.consent_answer_${v}`), () => {}, 'grant');
  action.id = 'consent-action';
  const how = select(['phone', 'in_person', 'written'], (v) => t(`case.consent_how_${v}`), () => {}, 'phone');
  how.id = 'consent-how';
  const given = h('input', { type: 'datetime-local', id: 'consent-given' });
  const shown = h('output', { id: 'consent-text', class: 'muted' }, `${text.label}: ${text.text}`);
  const fields = [
    [t('case.consent_answer'), action],
    [t('case.consent_how'), how],
    [t('case.consent_given'), given],
    [t('case.consent_text_label'), shown],
  ];
  formDialog('consent', t('case.record_consent'), fields, t('save'), async () => {
    const body = {
      purpose: PURPOSE,
      action: action.value,
      text_version: text.label,
      channel: how.value === 'phone' ? 'phone' : state.c.channel,
      source: how.value,
    };
    if (given.value) body.given_at = new Date(given.value).toISOString();
    const done = await attempt(() => api('POST', `/contacts/${state.c.contact_id}/consents`, body), t('case.consent_recorded'));
    if (done) await reload();
    return Boolean(done);
  });
}
