// The inbox: built-in and saved views, filters, bulk actions, rows that
// appear live.

import { CHANNELS, OPEN, PRIORITIES, api, attempt, ctx, debounce, formDialog, h, labelled, moveFocus, myUnits, query, select, supervises, t, toast, unitName, userName, when } from './lib.js';

// ---------------------------------------------------------------- inbox

// The views saved on the server (the caller's own, then their units');
// views kept in this browser by earlier versions move there once.
export async function savedViews() {
  let local = [];
  try {
    local = JSON.parse(localStorage.getItem('ventanilla.views')) || [];
  } catch {
    local = [];
  }
  for (const old of local) {
    await api('POST', '/saved-views', { name: old.label, filters: old.query }).catch(() => {});
  }
  localStorage.removeItem('ventanilla.views');
  const found = await api('GET', '/saved-views').catch(() => ({ items: [] }));
  return found.items;
}

export async function views() {
  const list = [
    { id: 'mine', label: t('view.mine'), query: { assignee_id: 'me', status: 'assigned,waiting_on_contact', snoozed: 'false' } },
    { id: 'unassigned', label: t('view.unassigned'), query: { status: 'queued', snoozed: 'false' } },
    { id: 'risk', label: t('view.risk'), query: { sla: 'warning,breached', status: OPEN } },
    { id: 'snoozed', label: t('view.snoozed'), query: { assignee_id: 'me', snoozed: 'true' } },
    { id: 'bot', label: t('view.bot'), query: { status: 'bot' } },
    { id: 'open', label: t('view.open'), query: { status: OPEN, snoozed: 'false' } },
    { id: 'resolved', label: t('view.resolved'), query: { status: 'resolved' } },
  ];
  for (const unit of myUnits()) {
    list.push({ id: `unit-${unit.id}`, label: t('view.unit', { unit: unit.name }), query: { unit_id: unit.id, status: OPEN, snoozed: 'false' } });
  }
  for (const saved of await savedViews()) {
    const label = saved.unit_id ? t('view.shared', { name: saved.name, unit: unitName(saved.unit_id) }) : saved.name;
    list.push({ id: `saved-${saved.id}`, label, query: saved.filters, saved });
  }
  return list;
}

export async function inboxView(viewId) {
  const all = await views();
  const view = all.find((v) => v.id === viewId) || all[0];
  const filters = { channel: '', priority: '', tag: '', text: '' };
  const list = h('ul', { class: 'cases', 'aria-label': view.label });
  const count = h('span', { class: 'muted', 'aria-live': 'polite' });
  const selected = new Set();
  const fresh = new Set();

  const filterBar = h(
    'form',
    { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() },
    labelled(t('filter.text'), h('input', { type: 'search', oninput: (e) => set('text', e.target.value) })),
    labelled(t('filter.channel'), select(['', ...CHANNELS], (c) => (c ? t(`channel.${c}`) : t('any')), (v) => set('channel', v))),
    labelled(t('filter.priority'), select(['', ...PRIORITIES], (p) => (p ? t(`priority.${p}`) : t('any')), (v) => set('priority', v))),
    labelled(t('filter.tag'), h('input', { type: 'text', oninput: (e) => set('tag', e.target.value.trim()) })),
    h('button', { type: 'button', class: 'ghost', id: 'save-view', onclick: saveView }, t('view.save')),
    view.saved && (view.saved.owner_id === ctx.me.id || supervises(view.saved.unit_id))
      ? h('button', { type: 'button', class: 'ghost', id: 'remove-view', onclick: removeView }, t('view.remove'))
      : null,
  );

  function set(name, value) {
    filters[name] = value;
    reloadSoon();
  }

  function saveView() {
    const name = h('input', { type: 'text', id: 'view-name', required: true, maxlength: 80 });
    const shared = myUnits().filter((u) => supervises(u.id));
    const share = h(
      'select',
      { id: 'view-share' },
      h('option', { value: '' }, t('view.personal')),
      shared.map((u) => h('option', { value: u.id }, u.name)),
    );
    const fields = [[t('view.save_name'), name]];
    if (shared.length) fields.push([t('view.share'), share]);
    formDialog('view', t('view.save'), fields, t('view.save'), async () => {
      const chosen = Object.fromEntries(Object.entries(filters).filter(([, v]) => v));
      const body = { name: name.value.trim(), filters: { ...view.query, ...chosen } };
      if (share.value) body.unit_id = share.value;
      const saved = await attempt(() => api('POST', '/saved-views', body), t('saved'));
      if (saved) location.hash = `#/inbox/saved-${saved.id}`;
      return Boolean(saved);
    });
  }

  async function removeView() {
    if (!confirm(t('view.remove_confirm', { name: view.saved.name }))) return;
    const gone = await attempt(() => api('DELETE', `/saved-views/${view.saved.id}`), t('saved'));
    if (gone !== undefined) location.hash = '#/inbox/mine';
  }

  function assignDialog() {
    const people = [...ctx.users.values()].sort((a, b) => a.display_name.localeCompare(b.display_name));
    const who = h('select', { id: 'assign-to', required: true }, people.map((u) => h('option', { value: u.id }, u.display_name)));
    formDialog('assign', t('bulk.assign'), [[t('bulk.assign_to'), who]], t('bulk.assign'), async () => {
      await each((id) => api('PATCH', `/cases/${id}`, { assignee_id: who.value }));
      return true;
    });
  }

  const bulk = h(
    'div',
    { class: 'bulk', hidden: true },
    h('button', { type: 'button', onclick: () => each((id) => api('POST', `/cases/${id}/claim`)) }, t('bulk.take')),
    h('button', { type: 'button', id: 'bulk-assign', onclick: assignDialog }, t('bulk.assign')),
    h('button', { type: 'button', onclick: () => each((id) => api('PATCH', `/cases/${id}`, { status: 'resolved' })) }, t('bulk.resolve')),
    h(
      'button',
      {
        type: 'button',
        onclick: () => {
          const tag = prompt(t('bulk.tag_name'));
          if (tag) each((id) => api('POST', `/cases/${id}/tags`, { tag }));
        },
      },
      t('bulk.tag'),
    ),
  );

  async function each(action) {
    const ids = [...selected];
    let failed = 0;
    for (const id of ids) {
      try {
        await action(id);
      } catch {
        failed += 1;
      }
    }
    toast(t('bulk.done', { done: ids.length - failed, failed }), failed ? 'error' : 'ok');
    selected.clear();
    reload();
  }

  async function reload() {
    const params = { ...view.query, ...filters, limit: 100 };
    const cases = await attempt(() => api('GET', `/cases${query(params)}`));
    if (!cases) return;
    count.textContent = t('count', { n: cases.items.length });
    list.replaceChildren(...cases.items.map(row));
    if (!cases.items.length) list.append(h('li', { class: 'empty' }, t('empty')));
    bulk.hidden = selected.size === 0;
  }
  const reloadSoon = debounce(reload, 150);

  function row(c) {
    const box = h('input', {
      type: 'checkbox',
      'aria-label': t('select', { n: c.number }),
      checked: selected.has(c.id),
      onchange: (e) => {
        if (e.target.checked) selected.add(c.id);
        else selected.delete(c.id);
        bulk.hidden = selected.size === 0;
      },
    });
    const sla = (c.sla || []).find((s) => s.state === 'breached' || s.state === 'warning');
    return h(
      'li',
      { class: fresh.has(c.id) ? 'case-row fresh' : 'case-row', 'data-case': c.id },
      box,
      h('a', { href: `#/cases/${c.id}`, class: 'subject' }, `#${c.number} · ${c.subject}`),
      h('span', { class: `badge status-${c.status}` }, t(`status.${c.status}`)),
      h('span', { class: 'badge' }, t(`channel.${c.channel}`)),
      c.priority !== 'normal' ? h('span', { class: `badge priority-${c.priority}` }, t(`priority.${c.priority}`)) : null,
      sla ? h('span', { class: `badge sla-${sla.state}` }, t(`sla.${sla.state}`)) : null,
      h('span', { class: 'assignee' }, userName(c.assignee_id)),
      h('time', { datetime: c.updated_at }, when(c.updated_at)),
    );
  }

  const sidebar = h(
    'nav',
    { class: 'views', 'aria-label': t('views') },
    h('ul', null, all.map((v) => h('li', null, h('a', { href: `#/inbox/${v.id}`, 'aria-current': v.id === view.id ? 'page' : null }, v.label)))),
  );
  const el = h(
    'div',
    { class: 'inbox' },
    sidebar,
    h('section', { class: 'list' }, h('h1', null, view.label, ' ', count), filterBar, bulk, list),
  );
  await reload();

  return {
    el,
    onEvent(event) {
      if (event.kind === 'case.created' && event.case_id) fresh.add(event.case_id);
      if (['case.created', 'case.updated', 'case.sla', 'message.created', 'resync'].includes(event.kind)) reloadSoon();
    },
    keys: {
      j: () => moveFocus(list, 1),
      k: () => moveFocus(list, -1),
    },
  };
}
