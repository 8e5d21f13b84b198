// A case: its conversation and notes, the composer, the contact and their
// earlier cases, custom fields, knowledge-base suggestions.

import { PRIORITIES, Problem, api, attempt, ctx, debounce, formDialog, h, labelled, myUnits, query, select, t, unitName, userName, when } from './lib.js';
import { consentNode } from './consent.js';
import { templatePicker } from './templates.js';

// ---------------------------------------------------------------- case

export async function caseView(id) {
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
    const [contact, history, consents] = await Promise.all([
      api('GET', `/contacts/${c.contact_id}`).catch(() => null),
      api('GET', `/cases${query({ contact_id: c.contact_id, limit: 10 })}`).catch(() => ({ items: [] })),
      api('GET', `/contacts/${c.contact_id}/consents`).catch(() => ({ items: [] })),
    ]);
    state = { c, messages: messages.items, notes: notes.items, contact, history: history.items, reply, consents: consents.items };
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
      ...state.messages.map((m) => ({ at: m.created_at, key: `${m.id}:${m.delivery_status}:${m.delivery_attempts}:${m.waiting_for || ''}:${m.next_attempt_at || ''}`, make: () => messageNode(m) })),
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
    const people = JSON.stringify([state.contact, state.history.map((x) => [x.id, x.status]), state.consents]);
    if (people !== drawn.contact) {
      drawn.contact = people;
      contactBox.replaceChildren(contactNode());
    }
    const defs = ctx.units.find((u) => u.id === c.unit_id)?.custom_fields || [];
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
      deliveryNode(m),
    );
  }

  // Why an outbound message has not reached the person yet, and what the
  // agent can do about it.
  function deliveryNode(m) {
    const again = (label) =>
      h('button', { type: 'button', class: 'ghost', onclick: () => retry(m) }, label);
    if (m.delivery_status === 'failed') {
      return h('p', { class: 'failed' }, t('case.failed', { reason: m.delivery_error || '' }), ' ', again(t('case.send_again')));
    }
    if (m.delivery_status !== 'pending') return null;
    if (m.waiting_for) {
      return h('p', { class: 'waiting' }, t('case.waiting_behind', { at: m.next_attempt_at ? when(m.next_attempt_at) : '' }));
    }
    if (m.delivery_attempts > 0 && m.delivery_error) {
      return h(
        'p',
        { class: 'retrying' },
        t('case.retrying', { attempts: m.delivery_attempts, reason: m.delivery_error, at: m.next_attempt_at ? when(m.next_attempt_at) : '' }),
        ' ',
        again(t('case.retry_now')),
      );
    }
    return null;
  }

  async function retry(m) {
    if (await attempt(() => api('POST', `/cases/${id}/messages/${m.id}/retry`), t('case.retry_queued'))) await load();
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
    let picker = null;
    const ready = () => Boolean(picker?.chosen() && picker.complete());
    const drawWindow = () => {
      const closed = mode === 'reply' && !reply.free_text;
      windowBox.hidden = !closed;
      text.hidden = closed;
      label.hidden = closed;
      if (!closed) return;
      picker = null;
      const made = reply.templates.length
        ? templatePicker(reply.templates, { id: 'reply', none: t('case.template_pick'), onChange: () => (button.disabled = !ready()) })
        : null;
      picker = made;
      windowBox.replaceChildren(
        h('p', { class: 'warn', role: 'note' }, t('case.window_closed'), reply.reason ? h('small', { class: 'details', lang: 'en' }, reply.reason) : null),
        ...(made ? [h('label', { for: 'reply-template' }, t('case.template')), made.chooser, made.fields, made.preview] : [h('p', null, t('case.no_templates'))]),
      );
      button.disabled = !ready();
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
        return mode === 'reply' && !reply.free_text && picker?.chosen() ? picker.value() : null;
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
      consentNode(state, load),
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
      ctx.units.map((u) => h('option', { value: u.id, selected: u.id === state.c.unit_id }, u.name)),
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
