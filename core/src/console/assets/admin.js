// The admins' pages: plugins, units, users, tokens, consent texts and the
// audit log (audit.js).

import { Problem, api, attempt, ctx, h, select, t, toast, unitName, when } from './lib.js';
import { templatesPanel } from './templates.js';
import { adminAudit } from './audit.js';

// ---------------------------------------------------------------- admin

export const ADMIN_TABS = ['plugins', 'units', 'users', 'tokens', 'consent', 'audit'];

export async function adminView(tab) {
  if (!ctx.me.is_admin) return { el: h('p', { class: 'fatal' }, t('admin.only')) };
  const el = h('div', { class: 'page admin' });
  const tabs = h(
    'nav',
    { class: 'unit-picker', 'aria-label': t('admin.sections') },
    ADMIN_TABS.map((name) => h('a', { href: `#/admin/${name}`, 'aria-current': name === tab ? 'page' : null }, t(`admin.${name}`))),
  );
  const body = h('div');
  el.append(tabs, h('h1', null, t(`admin.${tab}`)), body);
  const views = { plugins: adminPlugins, units: adminUnits, users: adminUsers, tokens: adminTokens, consent: adminConsent, audit: adminAudit };
  try {
    await (views[tab] || adminPlugins)(body);
  } catch (e) {
    body.replaceChildren(h('p', { class: 'fatal' }, e instanceof Problem ? e.describe() : t('error.network')));
  }
  return { el };
}

// A form for a plugin's settings, built from its JSON Schema: strings
// (a choice when the schema lists them), numbers, yes/no, lists of text;
// anything else is edited as JSON.
export function schemaForm(schema, values, prefix) {
  const fields = [];
  const props = schema?.properties || {};
  const required = new Set(schema?.required || []);
  for (const [name, prop] of Object.entries(props)) {
    const id = `${prefix}-${name}`;
    const current = values?.[name] ?? prop.default;
    const label = h('label', { for: id }, prop.title || name, required.has(name) ? ' *' : '');
    const hint = prop.description ? h('p', { class: 'hint', id: `${id}-hint` }, prop.description) : null;
    let control;
    let read;
    const type = Array.isArray(prop.type) ? prop.type.find((x) => x !== 'null') : prop.type;
    if (Array.isArray(prop.enum)) {
      control = h('select', { id }, (required.has(name) ? [] : ['']).concat(prop.enum).map((v) => h('option', { value: String(v), selected: v === current }, String(v))));
      read = () => (control.value === '' ? undefined : prop.enum.find((v) => String(v) === control.value));
    } else if (type === 'boolean') {
      control = h('input', { id, type: 'checkbox', checked: Boolean(current) });
      read = () => control.checked;
    } else if (type === 'integer' || type === 'number') {
      control = h('input', { id, type: 'number', step: type === 'integer' ? '1' : 'any', value: current ?? '', min: prop.minimum, max: prop.maximum });
      read = () => (control.value === '' ? undefined : Number(control.value));
    } else if (type === 'string') {
      control = h('input', { id, type: 'text', value: current ?? '', required: required.has(name) });
      read = () => (control.value === '' ? undefined : control.value);
    } else if (type === 'array' && prop.items?.type === 'string') {
      control = h('textarea', { id, rows: 3, value: (current || []).join('\n') });
      read = () => control.value.split('\n').map((x) => x.trim()).filter(Boolean);
    } else {
      control = h('textarea', { id, rows: 4, class: 'json', value: current === undefined ? '' : JSON.stringify(current, null, 2) });
      read = () => {
        if (!control.value.trim()) return undefined;
        try {
          return JSON.parse(control.value);
        } catch {
          throw new Error(t('admin.bad_json', { field: name }));
        }
      };
    }
    if (hint) control.setAttribute('aria-describedby', `${id}-hint`);
    fields.push({ name, node: h('div', { class: 'field' }, label, control, hint), read });
  }
  return {
    nodes: fields.map((f) => f.node),
    value() {
      const out = {};
      for (const f of fields) {
        const v = f.read();
        if (v !== undefined) out[f.name] = v;
      }
      return out;
    },
  };
}

export function grantsForm(requested, granted, prefix) {
  const flags = ['kv', 'kb_search', 'case_read'].filter((k) => requested[k]);
  const lists = ['http_hosts', 'mail_hosts', 'secrets'].filter((k) => requested[k]?.length);
  const boxes = flags.map((k) => ({ k, el: h('input', { type: 'checkbox', id: `${prefix}-${k}`, checked: granted ? Boolean(granted[k]) : true }) }));
  const texts = lists.map((k) => ({ k, el: h('textarea', { id: `${prefix}-${k}`, rows: 2, value: (granted ? granted[k] : requested[k]).join('\n') }) }));
  return {
    nodes: [
      h('h3', null, t('admin.grants')),
      ...boxes.map(({ k, el }) => h('p', null, el, h('label', { for: el.id }, t(`admin.grant.${k}`)))),
      ...texts.map(({ k, el }) => h('div', { class: 'field' }, h('label', { for: el.id }, t(`admin.grant.${k}`)), el)),
    ],
    value() {
      const out = { kv: false, kb_search: false, case_read: false, http_hosts: [], mail_hosts: [], secrets: [] };
      for (const { k, el } of boxes) out[k] = el.checked;
      for (const { k, el } of texts) out[k] = el.value.split(/[\s,]+/).filter(Boolean);
      return out;
    },
  };
}

export async function adminPlugins(body) {
  const [plugins, installs, accounts] = await Promise.all([
    api('GET', '/plugins'),
    api('GET', '/plugin-installs'),
    api('GET', '/channel-accounts').catch(() => ({ items: [] })),
  ]);
  const manifest = h('input', { type: 'file', id: 'plugin-manifest', accept: '.toml', required: true });
  const component = h('input', { type: 'file', id: 'plugin-component', accept: '.wasm', required: true });
  const upload = h(
    'form',
    {
      class: 'panel stack',
      onsubmit: async (e) => {
        e.preventDefault();
        const form = new FormData();
        form.append('manifest', manifest.files[0]);
        form.append('component', component.files[0]);
        if (await attempt(() => api('POST', '/plugins', form), t('admin.uploaded'))) adminPlugins(body);
      },
    },
    h('h2', null, t('admin.upload')),
    h('label', { for: 'plugin-manifest' }, t('admin.manifest')),
    manifest,
    h('label', { for: 'plugin-component' }, t('admin.component')),
    component,
    h('button', { type: 'submit', id: 'plugin-upload' }, t('admin.upload')),
  );
  const editor = h('div', { id: 'install-editor' });

  function openEditor(version, plugin, install) {
    const prefix = `s-${plugin.id}`;
    const settings = schemaForm(version.settings_schema, install?.settings, prefix);
    const grants = grantsForm(version.requested, install?.grants, `g-${plugin.id}`);
    const name = h('input', { type: 'text', id: 'install-name', value: install?.name ?? plugin.name, required: true });
    const unitsBox = h('select', { id: 'install-units', multiple: true, size: Math.min(6, ctx.units.length) },
      ctx.units.map((u) => h('option', { value: u.id, selected: (install?.units || []).includes(u.id) }, u.name)));
    const enabled = h('input', { type: 'checkbox', id: 'install-enabled', checked: install ? install.enabled : true });
    editor.replaceChildren(
      h(
        'form',
        {
          class: 'panel stack',
          onsubmit: async (e) => {
            e.preventDefault();
            let payload;
            try {
              payload = { name: name.value, settings: settings.value(), grants: grants.value(), enabled: enabled.checked };
            } catch (err) {
              return toast(err.message, 'error');
            }
            const chosen = [...unitsBox.selectedOptions].map((o) => o.value);
            const { enabled: on, ...fields } = payload;
            const done = install
              ? await attempt(() => api('PATCH', `/plugin-installs/${install.id}`, payload), t('saved'))
              : await attempt(async () => {
                  const made = await api('POST', '/plugin-installs', { ...fields, plugin_id: plugin.id, version: version.version, units: chosen });
                  return made.enabled === on ? made : api('PATCH', `/plugin-installs/${made.id}`, { enabled: on });
                }, t('admin.installed'));
            if (done) adminPlugins(body);
          },
        },
        h('h2', null, install ? t('admin.configure', { name: install.name }) : t('admin.install', { name: plugin.name })),
        h('p', { class: 'muted' }, version.description),
        h('label', { for: 'install-name' }, t('admin.install_name')),
        name,
        install ? null : h('label', { for: 'install-units' }, t('admin.install_units')),
        install ? null : unitsBox,
        h('p', null, enabled, h('label', { for: 'install-enabled' }, t('admin.enabled'))),
        h('h3', null, t('admin.settings')),
        settings.nodes,
        grants.nodes,
        h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'install-save' }, t('save')), h('button', { type: 'button', class: 'ghost', onclick: () => editor.replaceChildren() }, t('cancel'))),
      ),
    );
    editor.querySelector('input, select, textarea')?.focus();
  }

  // Accounts whose provider reviews message templates (WhatsApp).
  const templated = (install) => accounts.items.find((a) => a.id === install.id && a.sends_templates);
  const versionOf = (plugin, v) => plugin.versions.find((x) => x.version === v) || plugin.versions.at(-1);
  const health = await Promise.all(installs.items.map((i) => api('GET', `/plugin-installs/${i.id}/health`).catch(() => null)));
  const ms = (v) => (v == null ? '–' : v.toFixed(1));
  const healthCell = (x) => {
    if (!x) return h('td', null, '–');
    const line = x.calls ? t('admin.health_line', { calls: x.calls, failures: x.failures, p50: ms(x.p50_ms), p99: ms(x.p99_ms) }) : t('admin.no_calls');
    const last = x.last_error ? h('small', { class: 'details', lang: 'en' }, t('admin.last_error', { at: when(x.last_error_at), error: x.last_error })) : null;
    return h('td', { class: x.failures ? 'health warn' : 'health' }, line, last);
  };
  const installTable = h(
    'table',
    { class: 'agents' },
    h('caption', null, t('admin.installs')),
    h('thead', null, h('tr', null, ['name', 'plugin', 'status', 'health', 'actions'].map((c) => h('th', { scope: 'col' }, t(`admin.col.${c}`))))),
    h(
      'tbody',
      null,
      installs.items.map((i, n) => {
        const plugin = plugins.items.find((p) => p.id === i.plugin_id);
        return h(
          'tr',
          { 'data-install': i.id },
          h('td', null, i.name),
          h('td', null, `${i.plugin_id} ${i.version}`),
          h('td', null, statusText(i)),
          healthCell(health[n]),
          h(
            'td',
            null,
            plugin ? h('button', { type: 'button', class: 'ghost', onclick: () => openEditor(versionOf(plugin, i.version), plugin, i) }, t('admin.configure_short')) : null,
            templated(i) ? h('button', { type: 'button', class: 'ghost', 'data-templates': i.id, onclick: () => templatesPanel(templated(i), editor) }, t('admin.templates')) : null,
          ),
        );
      }),
    ),
  );
  const available = h(
    'ul',
    { class: 'plain' },
    plugins.items.map((p) =>
      h('li', { 'data-plugin': p.id }, h('strong', null, p.name), ` · ${p.id} ${p.latest_version} · ${p.world} `,
        h('button', { type: 'button', class: 'ghost', onclick: () => openEditor(versionOf(p, p.latest_version), p, null) }, t('admin.install_short')))),
  );
  body.replaceChildren(h('div', { class: 'columns' }, h('div', null, installTable, h('h2', null, t('admin.available')), available, upload), editor));
}

export async function adminUnits(body) {
  const list = await api('GET', '/units');
  const slug = h('input', { type: 'text', id: 'unit-slug', required: true });
  const name = h('input', { type: 'text', id: 'unit-name', required: true });
  body.replaceChildren(
    h('ul', { class: 'plain' }, list.items.map((u) => h('li', null, h('a', { href: `#/units/${u.id}` }, u.name), ` · ${u.slug} · ${u.timezone}`))),
    h(
      'form',
      {
        class: 'panel stack',
        onsubmit: async (e) => {
          e.preventDefault();
          if (await attempt(() => api('POST', '/units', { slug: slug.value, name: name.value }), t('saved'))) {
            ctx.units = (await api('GET', '/units')).items;
            adminUnits(body);
          }
        },
      },
      h('h2', null, t('admin.new_unit')),
      h('label', { for: 'unit-slug' }, t('admin.slug')),
      slug,
      h('label', { for: 'unit-name' }, t('admin.unit_name')),
      name,
      h('button', { type: 'submit' }, t('save')),
    ),
  );
}

// Someone lost their phone: they sign in with their password alone again
// (or enrol anew, if required), and their sessions end.
async function resetTwoFactor(user, body) {
  if (!confirm(t('admin.reset_two_factor_confirm', { name: user.display_name }))) return;
  try {
    await api('DELETE', `/users/${user.id}/two-factor`);
    toast(t('admin.two_factor_reset', { name: user.display_name }), 'ok');
    await adminUsers(body);
  } catch (e) {
    if (e instanceof Problem && e.status === 404) toast(t('admin.two_factor_none', { name: user.display_name }));
    else toast(e instanceof Problem ? e.describe() : t('error.network'), 'error');
  }
}

/// The directories staff come from (`[[auth.ldap]]`), read again on demand.
async function directoriesPanel(body) {
  const { items } = await api('GET', '/directories');
  if (!items.length) return null;
  const summary = (r) => t('admin.sync_summary', { created: r.created + r.joined, updated: r.updated + r.reactivated, deactivated: r.deactivated });
  const sync = async (d) => {
    const report = await attempt(() => api('POST', `/directories/${d.id}/sync`));
    if (!report) return;
    toast(`${d.id}: ${summary(report)}`, 'ok');
    adminUsers(body);
  };
  return h('table', { class: 'agents', id: 'directories' }, h('caption', null, t('admin.directories')),
    h('thead', null, h('tr', null, ['directory', 'accounts', 'last_sync', 'actions'].map((c) => h('th', { scope: 'col' }, t(`admin.col.${c}`))))),
    h('tbody', null, items.map((d) => h('tr', { 'data-directory': d.id },
      h('td', null, h('strong', null, d.id), h('br'), h('small', null, d.url)),
      h('td', { class: 'accounts' }, String(d.accounts)),
      h('td', { class: 'last-sync' }, d.last_sync ? `${when(d.last_sync.at)} · ${summary(d.last_sync.report)}` : t('admin.never')),
      h('td', null, h('button', { type: 'button', class: 'ghost', id: `sync-${d.id}`, 'aria-label': t('admin.sync_of', { id: d.id }), onclick: () => sync(d) }, t('admin.sync_now')))))));
}

export async function adminUsers(body) {
  const list = await api('GET', '/users?limit=100');
  const directories = await directoriesPanel(body);
  const email = h('input', { type: 'email', id: 'user-email', required: true });
  const name = h('input', { type: 'text', id: 'user-name', required: true });
  const password = h('input', { type: 'password', id: 'user-password', required: true, autocomplete: 'new-password' });
  const unit = h('select', { id: 'user-unit' }, ctx.units.map((u) => h('option', { value: u.id }, u.name)));
  const role = h('select', { id: 'user-role' }, ['agent', 'supervisor'].map((r) => h('option', { value: r }, t(`admin.role.${r}`))));
  const admin = h('input', { type: 'checkbox', id: 'user-admin' });
  const describe = (u) => [u.is_admin ? t('admin.role.admin') : null, ...u.memberships.map((m) => `${t(`admin.role.${m.role}`)} · ${unitName(m.unit_id)}`)].filter(Boolean).join(', ');
  body.replaceChildren(
    h('table', { class: 'agents' }, h('caption', null, t('admin.users')),
      h('thead', null, h('tr', null, ['name', 'email', 'roles', 'two_factor', 'actions'].map((c) => h('th', { scope: 'col' }, t(`admin.col.${c}`))))),
      h('tbody', null, list.items.map((u) => h('tr', { 'data-user': u.email }, h('td', null, u.display_name), h('td', null, u.email), h('td', null, describe(u)),
        h('td', { class: 'two-factor' }, u.two_factor ? t('admin.two_factor_on') : t('admin.two_factor_off')),
        h('td', null, u.id === ctx.me.id || !u.two_factor ? null : h('button', { type: 'button', class: 'ghost', 'aria-label': t('admin.reset_two_factor_of', { name: u.display_name }), onclick: () => resetTwoFactor(u, body) }, t('admin.reset_two_factor'))))))),
    directories,
    h(
      'form',
      {
        class: 'panel stack',
        onsubmit: async (e) => {
          e.preventDefault();
          const user = { email: email.value, display_name: name.value, password: password.value, is_admin: admin.checked, memberships: unit.value ? [{ unit_id: unit.value, role: role.value }] : [] };
          if (await attempt(() => api('POST', '/users', user), t('saved'))) adminUsers(body);
        },
      },
      h('h2', null, t('admin.new_user')),
      h('label', { for: 'user-email' }, t('login.email')),
      email,
      h('label', { for: 'user-name' }, t('admin.col.name')),
      name,
      h('label', { for: 'user-password' }, t('login.password')),
      password,
      h('label', { for: 'user-unit' }, t('admin.user_unit')),
      unit,
      h('label', { for: 'user-role' }, t('admin.col.roles')),
      role,
      h('p', null, admin, h('label', { for: 'user-admin' }, t('admin.role.admin'))),
      h('button', { type: 'submit' }, t('save')),
    ),
  );
}

export const SCOPES = ['cases:read', 'cases:write', 'contacts:read', 'contacts:write', 'units:read', 'units:write', 'users:read', 'users:write', 'kb:read', 'kb:write', 'audit:read'];

export async function adminTokens(body) {
  const list = await api('GET', '/api-tokens');
  const name = h('input', { type: 'text', id: 'token-name', required: true });
  const boxes = SCOPES.map((s) => h('input', { type: 'checkbox', id: `scope-${s.replace(':', '-')}`, value: s }));
  const secret = h('p', { class: 'secret', role: 'status' });
  body.replaceChildren(
    h('ul', { class: 'plain' }, list.items.map((tk) => h('li', null, h('strong', null, tk.name), ` · ${tk.scopes.join(', ')} `, tk.revoked_at ? h('span', { class: 'muted' }, t('admin.revoked')) :
      h('button', { type: 'button', class: 'ghost', onclick: async () => (await attempt(() => api('DELETE', `/api-tokens/${tk.id}`), t('admin.revoked'))) !== undefined && adminTokens(body) }, t('admin.revoke', { name: tk.name }))))),
    h(
      'form',
      {
        class: 'panel stack',
        onsubmit: async (e) => {
          e.preventDefault();
          const made = await attempt(() => api('POST', '/api-tokens', { name: name.value, scopes: boxes.filter((b) => b.checked).map((b) => b.value) }));
          if (made) secret.textContent = t('admin.secret', { secret: made.secret });
        },
      },
      h('h2', null, t('admin.new_token')),
      h('label', { for: 'token-name' }, t('admin.col.name')),
      name,
      h('fieldset', null, h('legend', null, t('admin.scopes')), boxes.map((b) => h('p', null, b, h('label', { for: b.id }, b.value)))),
      h('button', { type: 'submit' }, t('save')),
      secret,
    ),
  );
}

export async function adminConsent(body) {
  const list = await api('GET', '/consent-texts');
  const purpose = h('input', { type: 'text', id: 'consent-purpose', required: true, value: 'data_processing' });
  const text = h('textarea', { id: 'consent-text', rows: 4, required: true });
  body.replaceChildren(
    h('ul', { class: 'plain' }, list.items.map((c) => h('li', null, h('strong', null, `${c.purpose} v${c.version} (${c.locale})`), h('p', null, c.text)))),
    h(
      'form',
      {
        class: 'panel stack',
        onsubmit: async (e) => {
          e.preventDefault();
          if (await attempt(() => api('POST', '/consent-texts', { purpose: purpose.value, text: text.value }), t('saved'))) adminConsent(body);
        },
      },
      h('h2', null, t('admin.new_consent')),
      h('label', { for: 'consent-purpose' }, t('admin.purpose')),
      purpose,
      h('label', { for: 'consent-text' }, t('admin.consent_text')),
      text,
      h('button', { type: 'submit' }, t('save')),
    ),
  );
}

// An install's state in words: suspended, waiting for its secrets, on or off.
function statusText(i) {
  if (i.status === 'suspended') return t('admin.suspended', { reason: i.suspended_reason || '' });
  if (i.status === 'setup') return t('admin.setup', { secrets: (i.missing_setup || []).map((m) => m.name).join(', ') });
  return i.enabled ? t('admin.on') : t('admin.off');
}
