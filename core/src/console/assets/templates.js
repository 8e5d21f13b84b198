// Message templates a provider reviews (WhatsApp): one picker shared by the
// composer, "start a conversation" and campaigns, which asks for every value
// the chosen template takes (its header, its body's {{n}}, its buttons) and
// shows the message as it will read; and, for admins, an account's
// templates with their review status and a button to read them again.

import { api, attempt, h, labelled, t, toast, when } from './lib.js';

const MEDIA = ['image', 'document', 'video'];

// `templates`: the account's approved ones (name, language, text,
// parameters, header, buttons). `id` prefixes the controls' ids; `first` is
// the first parameter's starting value (a campaign's `{{name}}`); with
// `none`, a first choice sends no template (its label).
export function templatePicker(templates, { id, first = '', none = null, onChange = () => {} } = {}) {
  const chooser = h(
    'select',
    { id: `${id}-template`, 'aria-label': t('template.pick') },
    none ? h('option', { value: '' }, none) : null,
    templates.map((tpl, i) => h('option', { value: String(i) }, `${tpl.name} (${tpl.language})`)),
  );
  const fields = h('div', { class: 'params', id: `${id}-params` });
  const preview = h('div', { class: 'preview', id: `${id}-preview`, 'aria-live': 'polite' });
  let header = null;
  let params = [];
  let buttons = [];
  const chosen = () => (chooser.value === '' ? null : templates[Number(chooser.value)] ?? null);

  function show() {
    const tpl = chosen();
    if (!tpl) return preview.replaceChildren();
    const fill = (text, values) => text.replace(/\{\{(\d+)\}\}/g, (_, n) => values[Number(n) - 1]?.value || `{{${n}}}`);
    const head = tpl.header;
    const top = !head
      ? null
      : head.kind === 'text'
        ? h('strong', null, fill(head.text || '', header ? [header] : []))
        : h('small', { class: 'muted' }, t('template.header_file', { kind: t(`template.kind.${head.kind}`), link: header?.value || '…' }));
    const parts = [
      top,
      h('p', null, fill(tpl.text, params)),
      tpl.footer ? h('small', { class: 'muted' }, tpl.footer) : null,
      (tpl.buttons || []).length ? h('p', { class: 'buttons' }, tpl.buttons.map((b) => h('span', { class: 'chip' }, b.text))) : null,
    ];
    preview.replaceChildren(...parts.filter(Boolean));
  }

  function draw() {
    const tpl = chosen();
    const input = (label, value, attrs = {}) => {
      const control = h('input', { type: 'text', required: true, value, oninput: () => (show(), onChange()), ...attrs });
      return { node: labelled(label, control), control };
    };
    const head = tpl?.header?.takes_value ? tpl.header : null;
    const headerField = head
      ? MEDIA.includes(head.kind)
        ? input(t('template.header_link', { kind: t(`template.kind.${head.kind}`) }), '', { type: 'url', placeholder: 'https://', 'data-header': head.kind })
        : input(t('template.header_text'), '', { 'data-header': 'text', maxlength: 60 })
      : null;
    header = headerField?.control ?? null;
    const paramFields = Array.from({ length: tpl?.parameters ?? 0 }, (_, i) =>
      input(t('case.template_param', { n: i + 1 }), i === 0 ? first : '', { 'data-param': String(i + 1) }),
    );
    params = paramFields.map((f) => f.control);
    const buttonFields = (tpl?.buttons || []).flatMap((b, index) =>
      b.takes_value ? [{ index, ...input(t('template.button_value', { text: b.text }), '', { 'data-button': String(index) }) }] : [],
    );
    buttons = buttonFields.map((f) => ({ index: f.index, control: f.control }));
    fields.replaceChildren(...[headerField, ...paramFields, ...buttonFields].filter(Boolean).map((f) => f.node));
    show();
    onChange();
  }

  chooser.addEventListener('change', draw);
  draw();
  return {
    chooser,
    fields,
    preview,
    chosen,
    // Every value the chosen template takes is given.
    complete: () => [header, ...params, ...buttons.map((b) => b.control)].every((c) => !c || c.value.trim()),
    // The template as the API takes it; null when none is chosen.
    value() {
      const tpl = chosen();
      if (!tpl) return null;
      const value = { name: tpl.name, language: tpl.language, parameters: params.map((p) => p.value) };
      if (header) value.header = { kind: header.dataset.header, value: header.value.trim() };
      if (buttons.length) value.buttons = buttons.map((b) => ({ index: b.index, value: b.control.value }));
      return value;
    },
  };
}

// An account's templates as its provider keeps them, with their status,
// and (admins) a button that reads them again now.
export async function templatesPanel(account, into) {
  const path = `/channel-accounts/${account.id}/templates`;
  const shown = await attempt(() => api('GET', path));
  if (!shown) return;
  const draw = (data) => {
    const sync = data.sync;
    const state = sync.error
      ? h('p', { class: 'warn', role: 'note' }, t('template.sync_failed', { at: when(sync.attempted_at) }), h('small', { class: 'details', lang: 'en' }, sync.error))
      : h('p', { class: 'muted' }, sync.synced_at ? t('template.synced_at', { at: when(sync.synced_at) }) : t('template.never_synced'));
    const standing = sync.quality
      ? h('p', { class: sync.quality === 'green' || sync.quality === 'unknown' ? 'muted' : 'warn', id: 'templates-standing' },
          t(`template.quality.${sync.quality}`), ' ',
          sync.daily_recipients ? t('template.daily_limit', { n: sync.daily_recipients }) : t('template.no_daily_limit'))
      : null;
    const again = h('button', { type: 'button', id: 'templates-sync' }, t('template.sync'));
    again.addEventListener('click', async () => {
      again.disabled = true;
      const read = await attempt(() => api('POST', `${path}/sync`));
      again.disabled = false;
      if (!read) return draw(await api('GET', path));
      const c = read.changes;
      toast(t('template.synced', { added: c.added, removed: c.removed, changed: c.status_changed }));
      draw(read);
    });
    const table = h(
      'table',
      { class: 'agents templates', id: 'templates-table' },
      h('caption', null, t('template.title', { name: account.name })),
      h('thead', null, h('tr', null, ['name', 'category', 'status', 'changed'].map((c) => h('th', { scope: 'col' }, t(`template.col.${c}`))))),
      h(
        'tbody',
        null,
        data.items.map((tpl) =>
          h(
            'tr',
            { 'data-template': `${tpl.name}:${tpl.language}` },
            h('td', null, h('strong', null, tpl.name), ` (${tpl.language})`, h('small', { class: 'details' }, tpl.text)),
            h('td', null, tpl.category || '–'),
            h('td', { class: tpl.status === 'approved' ? 'status' : 'status warn' }, t(`template.status.${tpl.status}`), tpl.reason ? h('small', { class: 'details', lang: 'en' }, tpl.reason) : null),
            h('td', null, when(tpl.status_changed_at)),
          ),
        ),
      ),
    );
    into.replaceChildren(h('section', { class: 'panel stack', id: 'templates-panel' }, state, standing, again, data.items.length ? table : h('p', null, t('template.none'))));
  };
  draw(shown);
}
