// A unit, for its supervisors: agents, queue, hours, routing, canned
// responses, custom fields, protocols and knowledge base.

import { unitPrivacyForm } from './privacy.js';
import { Problem, api, attempt, ctx, debounce, h, labelled, query, select, supervises, t, toast, when } from './lib.js';
import { schemaForm } from './admin.js';

// ---------------------------------------------------------------- unit (supervisors)

export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export async function unitView(unitId) {
  const el = h('div', { class: 'page unit' });
  const supervised = ctx.units.filter((u) => supervises(u.id));

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
      ctx.units = ctx.units.map((u) => (u.id === unitId ? saved : u));
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
        h('section', { class: 'panel' }, unitPrivacyForm(unit, load)),
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
