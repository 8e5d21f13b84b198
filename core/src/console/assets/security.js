// One's own account security: two-factor sign-in (turn on with a QR code
// and a first code, recovery codes shown once, renew them, turn off) and
// where one is signed in (end a session, or all of them). Also drawn alone,
// without the console around it, for an administrator the server holds
// back until they turn two-factor sign-in on.

import { Problem, api, attempt, h, signOut, t, toast, when } from './lib.js';

// `required`: drawn alone for an administrator who must enrol first;
// `done` is called once they have.
export async function securityView({ required = false, done = null } = {}) {
  const el = h('section', { class: 'security', 'aria-labelledby': 'security-title' });
  const factor = h('section', { class: 'panel', 'aria-labelledby': 'two-factor-title' });
  const sessions = h('section', { class: 'panel', 'aria-labelledby': 'sessions-title' });

  async function drawFactor() {
    const status = await api('GET', '/auth/two-factor');
    const parts = [h('h2', { id: 'two-factor-title' }, t('security.two_factor'))];
    if (required && !status.enabled) parts.push(h('p', { class: 'notice', role: 'alert' }, t('security.required')));
    if (status.enabled) {
      parts.push(
        h('p', { id: 'two-factor-state' }, t('security.on')),
        h('p', null, t('security.recovery_left', { n: status.recovery_codes_left })),
        codeForm('renew', t('security.renew'), false, async (code) => {
          const renewed = await api('POST', '/auth/two-factor/recovery-codes', { code });
          factor.replaceChildren(...recoveryList(renewed.recovery_codes, drawFactor));
        }),
      );
      if (!status.required) {
        parts.push(
          codeForm('disable', t('security.disable'), true, async (code, password) => {
            await api('POST', '/auth/two-factor/disable', { code, password });
            toast(t('security.disabled'), 'ok');
            await drawFactor();
          }),
        );
      }
    } else {
      parts.push(h('p', { id: 'two-factor-state' }, t('security.off')), enrolForm());
    }
    factor.replaceChildren(...parts);
  }

  // Password first; then the QR code and the app's first code.
  function enrolForm() {
    const password = h('input', { id: 'enrol-password', type: 'password', autocomplete: 'current-password', required: true });
    const error = h('p', { class: 'error', role: 'alert' });
    return h(
      'form',
      {
        id: 'enrol',
        onsubmit: async (e) => {
          e.preventDefault();
          error.textContent = '';
          try {
            const started = await api('POST', '/auth/two-factor', { password: password.value });
            factor.replaceChildren(...scanStep(started));
            document.getElementById('enrol-code')?.focus();
          } catch (err) {
            error.replaceChildren(err instanceof Problem ? err.describe() : t('error.network'));
          }
        },
      },
      h('p', null, t('security.enrol_intro')),
      h('label', { for: 'enrol-password' }, t('security.password')),
      password,
      error,
      h('button', { type: 'submit' }, t('security.enable')),
    );
  }

  function scanStep(started) {
    const qr = h('img', {
      class: 'qr',
      src: `data:image/svg+xml;base64,${btoa(started.qr_svg)}`,
      alt: t('security.qr_alt'),
      width: 200,
      height: 200,
    });
    const code = h('input', {
      id: 'enrol-code',
      inputmode: 'numeric',
      autocomplete: 'one-time-code',
      pattern: '[0-9 ]{6,7}',
      required: true,
    });
    const error = h('p', { class: 'error', role: 'alert' });
    const form = h(
      'form',
      {
        id: 'enrol-confirm',
        onsubmit: async (e) => {
          e.preventDefault();
          error.textContent = '';
          try {
            const confirmed = await api('POST', '/auth/two-factor/confirm', { code: code.value });
            factor.replaceChildren(...recoveryList(confirmed.recovery_codes, async () => (done ? done() : drawFactor())));
          } catch (err) {
            error.replaceChildren(err instanceof Problem ? err.describe() : t('error.network'));
          }
        },
      },
      h('label', { for: 'enrol-code' }, t('security.code')),
      code,
      error,
      h('button', { type: 'submit' }, t('security.confirm')),
    );
    return [
      h('h2', { id: 'two-factor-title' }, t('security.two_factor')),
      h('p', null, t('security.scan')),
      qr,
      h('p', null, t('security.secret_text'), ' ', h('code', { id: 'enrol-secret' }, started.secret)),
      form,
    ];
  }

  function recoveryList(codes, next) {
    return [
      h('h2', { id: 'two-factor-title' }, t('security.recovery_title')),
      h('p', { role: 'status' }, t('security.recovery_intro')),
      h('ol', { id: 'recovery-codes', class: 'recovery' }, codes.map((c) => h('li', null, h('code', null, c)))),
      h('button', { type: 'button', id: 'recovery-saved', onclick: () => next() }, t('security.recovery_saved')),
    ];
  }

  // A form asking for a current code (and the password when `withPassword`).
  function codeForm(name, label, withPassword, submit) {
    const code = h('input', { id: `${name}-code`, inputmode: 'numeric', autocomplete: 'one-time-code', required: true });
    const password = withPassword
      ? h('input', { id: `${name}-password`, type: 'password', autocomplete: 'current-password', required: true })
      : null;
    const error = h('p', { class: 'error', role: 'alert' });
    return h(
      'form',
      {
        id: name,
        class: 'stack',
        onsubmit: async (e) => {
          e.preventDefault();
          error.textContent = '';
          try {
            await submit(code.value, password?.value);
          } catch (err) {
            error.replaceChildren(err instanceof Problem ? err.describe() : t('error.network'));
          }
        },
      },
      h('h3', null, label),
      withPassword ? [h('label', { for: `${name}-password` }, t('security.password')), password] : null,
      h('label', { for: `${name}-code` }, t('security.code')),
      code,
      error,
      h('button', { type: 'submit', class: withPassword ? 'danger' : null }, label),
    );
  }

  async function drawSessions() {
    const list = await api('GET', '/auth/sessions');
    const rows = list.items.map((s) =>
      h(
        'tr',
        null,
        h('td', null, s.user_agent || t('security.unknown_device'), s.current ? h('strong', null, ` · ${t('security.this_session')}`) : null),
        h('td', null, s.ip || ''),
        h('td', null, t(`security.method.${s.method}`)),
        h('td', null, when(s.started_at)),
        h('td', null, when(s.last_seen_at)),
        h(
          'td',
          null,
          s.current
            ? null
            : h(
                'button',
                {
                  type: 'button',
                  class: 'ghost',
                  'aria-label': t('security.end_one', { device: s.user_agent || t('security.unknown_device') }),
                  onclick: async () => {
                    await attempt(() => api('DELETE', `/auth/sessions/${s.id}`), t('security.ended'));
                    await drawSessions();
                  },
                },
                t('security.end'),
              ),
        ),
      ),
    );
    sessions.replaceChildren(
      h('h2', { id: 'sessions-title' }, t('security.sessions')),
      h(
        'table',
        { id: 'sessions' },
        h('caption', { class: 'sr-only' }, t('security.sessions')),
        h(
          'thead',
          null,
          h(
            'tr',
            null,
            ['device', 'ip', 'method', 'started', 'last_seen', 'actions'].map((c) => h('th', { scope: 'col' }, t(`security.col.${c}`))),
          ),
        ),
        h('tbody', null, rows),
      ),
      h(
        'p',
        { class: 'actions' },
        h(
          'button',
          {
            type: 'button',
            id: 'end-others',
            onclick: async () => {
              const out = await attempt(() => api('POST', '/auth/sessions/end', { keep_current: true }));
              if (out) toast(t('security.ended_others', { n: out.ended }), 'ok');
              await drawSessions();
            },
          },
          t('security.end_others'),
        ),
        h(
          'button',
          {
            type: 'button',
            id: 'end-everywhere',
            class: 'danger',
            onclick: async () => {
              if (!confirm(t('security.end_everywhere_confirm'))) return;
              await attempt(() => api('POST', '/auth/sessions/end', { keep_current: false }));
              signOut();
            },
          },
          t('security.end_everywhere'),
        ),
      ),
    );
  }

  el.append(h('h1', { id: 'security-title' }, t('security.title')), factor);
  await drawFactor();
  if (!required) {
    el.append(sessions);
    await drawSessions();
  } else {
    el.append(h('button', { type: 'button', class: 'ghost', id: 'sign-out', onclick: signOut }, t('sign_out')));
  }
  return { el };
}
