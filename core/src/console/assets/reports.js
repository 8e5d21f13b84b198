// Informes and the wallboard. Charts are inline SVG drawn here from the
// reports API (no third-party script: the console's CSP allows none), each
// with the same figures in a table under it, a comparison with the period
// before, and the figures as CSV or XLSX.

import { api, attempt, ctx, download, formDialog, h, myUnits, query, select, t, unitName, userName } from './lib.js';

const SVG = 'http://www.w3.org/2000/svg';

function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) if (value !== null && value !== undefined) el.setAttribute(name, String(value));
  for (const child of children.flat(Infinity)) if (child) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

// ---------------------------------------------------------------- figures

// A duration in seconds as people read it: "45 s", "12 min", "3,5 h", "2,1 d".
export function duration(secs) {
  if (secs === null || secs === undefined) return '—';
  const n = (v, digits) => v.toLocaleString(ctx.locale, { maximumFractionDigits: digits });
  if (secs < 60) return `${n(secs, 0)} s`;
  if (secs < 3600) return `${n(secs / 60, 0)} min`;
  if (secs < 86400) return `${n(secs / 3600, 1)} h`;
  return `${n(secs / 86400, 1)} d`;
}

const percent = (v) => (v === null || v === undefined ? '—' : `${(v * 100).toLocaleString(ctx.locale, { maximumFractionDigits: 1 })} %`);
const number = (v) => (v === null || v === undefined ? '—' : v.toLocaleString(ctx.locale, { maximumFractionDigits: 2 }));

// Report rows as objects of column to cell.
function rowsOf(report) {
  return report.rows.map((cells) => Object.fromEntries(report.columns.map((c, i) => [c, cells[i]])));
}

// ---------------------------------------------------------------- charts

// Horizontal bars, one per item ({label, value, previous?}), with the value
// written at the end; `format` writes a value. The SVG is an image with a
// name; the table under it carries the figures for screen readers.
export function barChart(title, items, format) {
  const rowH = 26;
  const labelW = 150;
  const width = 560;
  const max = Math.max(1, ...items.flatMap((i) => [i.value ?? 0, i.previous ?? 0]));
  const scale = (v) => Math.max(0, ((v ?? 0) / max) * (width - labelW - 90));
  const height = Math.max(1, items.length) * rowH + 8;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': title, focusable: 'false' });
  items.forEach((item, n) => {
    const y = n * rowH + 4;
    svg.append(
      s('text', { x: labelW - 8, y: y + 15, 'text-anchor': 'end', class: 'chart-label' }, String(item.label).slice(0, 22)),
      s('rect', { x: labelW, y: y + 2, width: scale(item.value), height: item.previous === undefined ? 16 : 10, class: 'chart-bar' }),
      item.previous === undefined ? null : s('rect', { x: labelW, y: y + 13, width: scale(item.previous), height: 5, class: 'chart-previous' }),
      s('text', { x: labelW + scale(item.value) + 6, y: y + 14, class: 'chart-value' }, format(item.value)),
    );
  });
  return svg;
}

// Vertical bars over time (a period per bar), with labels under the first,
// middle and last bars.
export function timeChart(title, items, format) {
  const width = 560;
  const height = 180;
  const bottom = 24;
  const max = Math.max(1, ...items.map((i) => i.value ?? 0));
  const step = (width - 40) / Math.max(1, items.length);
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': title, focusable: 'false' });
  svg.append(s('line', { x1: 30, x2: width, y1: height - bottom, y2: height - bottom, class: 'chart-axis' }));
  svg.append(s('text', { x: 26, y: 12, 'text-anchor': 'end', class: 'chart-value' }, format(max)));
  items.forEach((item, n) => {
    const barH = ((item.value ?? 0) / max) * (height - bottom - 16);
    const x = 34 + n * step;
    svg.append(s('rect', { x, y: height - bottom - barH, width: Math.max(1, step - 2), height: barH, class: 'chart-bar' }, s('title', null, `${item.label}: ${format(item.value)}`)));
    if (n === 0 || n === items.length - 1 || n === Math.floor(items.length / 2)) {
      const anchor = n === 0 && items.length > 1 ? 'start' : n === items.length - 1 && n > 0 ? 'end' : 'middle';
      const at = anchor === 'start' ? x : anchor === 'end' ? x + step : x + step / 2;
      svg.append(s('text', { x: at, y: height - 6, 'text-anchor': anchor, class: 'chart-label' }, item.label));
    }
  });
  return svg;
}

// A table of `rows` with `cols` as [heading, cell(row)] pairs.
function table(caption, cols, rows) {
  return h(
    'table',
    { class: 'grid figures' },
    h('caption', { class: 'sr-only' }, caption),
    h('thead', null, h('tr', null, cols.map(([head]) => h('th', { scope: 'col' }, head)))),
    h('tbody', null, rows.map((r) => h('tr', null, cols.map(([, cell], i) => (i === 0 ? h('th', { scope: 'row' }, cell(r)) : h('td', null, cell(r))))))),
  );
}

// ---------------------------------------------------------------- downloads


function downloads(report, params) {
  const file = (format) => () => download(`/reports/${report}${query({ ...params, format })}`, `${report}.${format}`);
  return h(
    'div',
    { class: 'downloads' },
    h('button', { type: 'button', class: 'ghost', 'data-download': `${report}-csv`, onclick: file('csv') }, t('reports.csv')),
    h('button', { type: 'button', class: 'ghost', 'data-download': `${report}-xlsx`, onclick: file('xlsx') }, t('reports.xlsx')),
  );
}

// ---------------------------------------------------------------- periods

const PERIODS = ['this_month', 'last_month', 'last_30_days', 'last_12_months'];

// [from, to] dates (to inclusive) of a named period, and the period before it.
export function periodRange(name, today = new Date()) {
  const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  const day = (y, m, d) => new Date(y, m, d);
  const y = today.getFullYear();
  const m = today.getMonth();
  const back = (d, days) => day(d.getFullYear(), d.getMonth(), d.getDate() - days);
  let from;
  let to;
  let before;
  if (name === 'this_month') {
    from = day(y, m, 1);
    to = today;
    before = [day(y, m - 1, 1), day(y, m - 1, Math.min(today.getDate(), day(y, m, 0).getDate()))];
  } else if (name === 'last_month') {
    from = day(y, m - 1, 1);
    to = day(y, m, 0);
    before = [day(y, m - 2, 1), day(y, m - 1, 0)];
  } else if (name === 'last_12_months') {
    from = day(y - 1, m, today.getDate() + 1);
    to = today;
    before = [day(y - 2, m, today.getDate() + 1), day(y - 1, m, today.getDate())];
  } else {
    from = back(today, 29);
    to = today;
    before = [back(today, 59), back(today, 30)];
  }
  return { from: iso(from), to: iso(to), before: { from: iso(before[0]), to: iso(before[1]) } };
}

// ---------------------------------------------------------------- informes

// The rows of a report by day or month with the periods that had no case
// added (as zero), so a chart's bars are evenly spaced in time.
export function fillPeriods(rows, step, from, to) {
  const byLabel = new Map(rows.map((r) => [r[step], r]));
  const out = [];
  const [fy, fm, fd] = from.split('-').map(Number);
  const end = to.slice(0, step === 'month' ? 7 : 10);
  for (let d = new Date(fy, fm - 1, step === 'month' ? 1 : fd), n = 0; n < 400; n += 1) {
    const label = step === 'month'
      ? `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`
      : `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
    if (label > end) break;
    out.push(byLabel.get(label) || { [step]: label, cases: 0, ended: 0, abandoned: 0 });
    d = step === 'month' ? new Date(d.getFullYear(), d.getMonth() + 1, 1) : new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1);
  }
  return out;
}

// One summary figure with its change against the period before.
function card(id, label, value, previous, format, better) {
  let change = null;
  if (value !== null && value !== undefined && previous !== null && previous !== undefined && previous !== value) {
    const up = value > previous;
    const tone = better === 'up' ? (up ? 'good' : 'bad') : better === 'down' ? (up ? 'bad' : 'good') : 'neutral';
    change = h('span', { class: `change ${tone}` }, `${up ? '▲' : '▼'} ${t('reports.before')}: ${format(previous)}`);
  }
  return h('div', { class: 'card', 'data-figure': id }, h('span', { class: 'muted' }, label), h('strong', null, format(value)), change);
}

async function fetchReport(name, params) {
  return api('GET', `/reports/${name}${query(params)}`);
}

export async function reportsView() {
  const state = { period: 'last_30_days', unit: '', channel: '' };
  const body = h('div', { id: 'report-body' });
  const units = myUnits();
  const unitPick = select(['', ...units.map((u) => u.id)], (v) => (v ? unitName(v) : t('reports.all_units')), (v) => ((state.unit = v), load()), '');
  const periodPick = select(PERIODS, (v) => t(`reports.period_${v}`), (v) => ((state.period = v), load()), state.period);
  const channels = ['', 'whatsapp', 'email', 'webchat', 'sms', 'telegram', 'messenger', 'instagram', 'webform', 'phone', 'api'];
  const channelPick = select(channels, (v) => (v ? t(`channel.${v}`) : t('reports.all_channels')), (v) => ((state.channel = v), load()), '');
  unitPick.id = 'report-unit';
  periodPick.id = 'report-period';
  channelPick.id = 'report-channel';
  const el = h(
    'section',
    { class: 'page reports' },
    h('h1', null, t('reports.title')),
    h('p', { class: 'muted' }, t('reports.intro')),
    h(
      'div',
      { class: 'filters' },
      h('span', { class: 'field' }, h('label', { for: 'report-period' }, t('reports.period')), periodPick),
      h('span', { class: 'field' }, h('label', { for: 'report-unit' }, t('reports.unit')), unitPick),
      h('span', { class: 'field' }, h('label', { for: 'report-channel' }, t('reports.channel')), channelPick),
      h('a', { href: '#/wallboard', class: 'ghost button' }, t('reports.wallboard')),
      h('button', { type: 'button', class: 'ghost', id: 'schedule-report', onclick: () => scheduleDialog(state) }, t('reports.schedule')),
    ),
    body,
  );
  async function load() {
    const range = periodRange(state.period);
    const base = { unit_id: state.unit, channel: state.channel };
    const now = { ...base, from: range.from, to: range.to };
    const before = { ...base, from: range.before.from, to: range.before.to };
    const step = state.period === 'last_12_months' ? 'month' : 'day';
    const got = await attempt(() =>
      Promise.all([
        fetchReport('volume', now),
        fetchReport('volume', before),
        fetchReport('response', now),
        fetchReport('response', before),
        fetchReport('resolution', now),
        fetchReport('resolution', before),
        fetchReport('satisfaction', now),
        fetchReport('satisfaction', before),
        fetchReport('volume', { ...now, group_by: step }),
        fetchReport('response', { ...now, group_by: 'channel' }),
        fetchReport('agents', now),
        fetchReport('bot', now),
        fetchReport('sla', now),
      ]),
    );
    if (!got) return;
    const [vol, volB, resp, respB, res, resB, sat, satB, byTime, byChannel, agents, bot, sla] = got;
    const one = (r) => rowsOf(r)[0] || {};
    const [v, vb, r, rb, x, xb, f, fb] = [vol, volB, resp, respB, res, resB, sat, satB].map(one);
    const pending = vol.pending_cases ? h('p', { class: 'muted', id: 'report-pending' }, t('reports.pending', { n: vol.pending_cases })) : null;
    const cards = h(
      'div',
      { class: 'cards', id: 'report-cards' },
      card('cases', t('reports.cases'), v.cases, vb.cases, number, 'none'),
      card('first_response', t('reports.first_response_median'), r.first_response_business_median_s, rb.first_response_business_median_s, duration, 'down'),
      card('resolution', t('reports.resolution_median'), x.resolution_business_median_s, xb.resolution_business_median_s, duration, 'down'),
      card('abandon', t('reports.abandon_rate'), v.abandon_rate, vb.abandon_rate, percent, 'down'),
      card('satisfaction', t('reports.satisfaction_mean'), f.mean, fb.mean, number, 'up'),
      card('containment', t('reports.containment_rate'), v.containment_rate, vb.containment_rate, percent, 'up'),
    );
    const timeRows = fillPeriods(rowsOf(byTime), step, range.from, range.to);
    const channelRows = rowsOf(byChannel);
    const agentRows = rowsOf(agents);
    const scores = [1, 2, 3, 4, 5].map((n) => ({ label: '★'.repeat(n), value: f[`score_${n}`] ?? 0 }));
    const scoresBefore = [1, 2, 3, 4, 5].map((n) => fb[`score_${n}`] ?? 0);
    const section = (id, title, ...children) => h('section', { class: 'panel report', id: `report-${id}`, 'aria-labelledby': `h-${id}` }, h('h2', { id: `h-${id}` }, title), children);
    body.replaceChildren(
      ...[pending].filter(Boolean),
      cards,
      section(
        'volume',
        t('reports.volume_title'),
        timeChart(t('reports.volume_title'), timeRows.map((row) => ({ label: row[step], value: row.cases })), number),
        table(t('reports.volume_title'), [[t(`reports.${step}`), (row) => row[step]], [t('reports.cases'), (row) => number(row.cases)], [t('reports.ended'), (row) => number(row.ended)], [t('reports.abandoned'), (row) => number(row.abandoned)]], timeRows),
        downloads('volume', { ...now, group_by: step }),
      ),
      section(
        'channels',
        t('reports.channels_title'),
        barChart(t('reports.channels_title'), channelRows.map((row) => ({ label: t(`channel.${row.channel}`), value: row.first_response_business_median_s })), duration),
        table(
          t('reports.channels_title'),
          [
            [t('reports.channel'), (row) => t(`channel.${row.channel}`)],
            [t('reports.cases'), (row) => number(row.cases)],
            [t('reports.median_business'), (row) => duration(row.first_response_business_median_s)],
            [t('reports.p90_business'), (row) => duration(row.first_response_business_p90_s)],
            [t('reports.median_calendar'), (row) => duration(row.first_response_median_s)],
          ],
          channelRows,
        ),
        downloads('response', { ...now, group_by: 'channel' }),
      ),
      section(
        'agents',
        t('reports.agents_title'),
        table(
          t('reports.agents_title'),
          [
            [t('reports.agent'), (row) => row.agent || (row.agent_id ? userName(row.agent_id) : t('reports.nobody'))],
            [t('reports.cases'), (row) => number(row.cases)],
            [t('reports.ended'), (row) => number(row.ended)],
            [t('reports.replies'), (row) => number(row.agent_replies)],
            [t('reports.first_response_median'), (row) => duration(row.first_response_business_median_s)],
            [t('reports.handling_mean'), (row) => duration(row.handling_business_mean_s)],
            [t('reports.satisfaction_mean'), (row) => number(row.satisfaction_mean)],
          ],
          agentRows,
        ),
        downloads('agents', now),
      ),
      section(
        'satisfaction',
        t('reports.satisfaction_title'),
        barChart(t('reports.satisfaction_title'), scores.map((sc, i) => ({ ...sc, previous: scoresBefore[i] })), number),
        h('p', { class: 'muted' }, t('reports.satisfaction_legend', { rate: percent(f.response_rate), sent: number(f.sent) })),
        table(t('reports.satisfaction_title'), [[t('reports.score'), (sc) => sc.label], [t('reports.answers'), (sc) => number(sc.value)]], scores),
        downloads('satisfaction', now),
      ),
      section(
        'bot',
        t('reports.bot_title'),
        table(t('reports.bot_title'), [[t('reports.measure'), ([k]) => t(`reports.bot_${k}`)], [t('reports.value'), ([k, val]) => (k.endsWith('rate') || k.startsWith('confidence') ? percent(val) : number(val))]], Object.entries(one(bot)).filter(([k]) => ['bot_started', 'handed_off', 'contained', 'containment_rate', 'confidence_mean'].includes(k))),
        downloads('bot', now),
      ),
      section(
        'sla',
        t('reports.sla_title'),
        table(t('reports.sla_title'), [[t('reports.target'), (row) => row.target ?? '—'], [t('reports.met'), (row) => number(row.met)], [t('reports.breached'), (row) => number(row.breached)], [t('reports.met_rate'), (row) => percent(row.met_rate)]], rowsOf(sla)),
        downloads('sla', now),
      ),
    );
  }
  await load();
  return { el };
}

// Mails the view's main report (volume by channel, with its filters) on a
// schedule, to oneself or other addresses.
function scheduleDialog(state) {
  const frequency = select(['daily', 'weekly', 'monthly'], (v) => t(`reports.every_${v}`), () => {}, 'weekly');
  frequency.id = 'schedule-frequency';
  const report = select(['volume', 'response', 'resolution', 'agents', 'satisfaction'], (v) => t(`reports.report_${v}`), () => {}, 'volume');
  report.id = 'schedule-report-name';
  const recipients = h('input', { id: 'schedule-recipients', type: 'text', value: ctx.me.email, autocomplete: 'off' });
  const fields = [
    [t('reports.schedule_report'), report],
    [t('reports.schedule_frequency'), frequency],
    [t('reports.schedule_recipients'), recipients],
  ];
  formDialog('schedule', t('reports.schedule'), fields, t('reports.schedule_go'), async () => {
    const filters = {};
    if (state.unit) filters.unit_id = state.unit;
    if (state.channel) filters.channel = state.channel;
    const body = {
      name: `${t(`reports.report_${report.value}`)} (${t(`reports.every_${frequency.value}`)})`,
      report: report.value,
      group_by: [report.value === 'agents' ? 'agent' : 'channel'],
      filters,
      frequency: frequency.value,
      recipients: recipients.value.split(/[,;\s]+/).filter(Boolean),
    };
    return Boolean(await attempt(() => api('POST', '/report-schedules', body), t('reports.scheduled')));
  });
}

// ---------------------------------------------------------------- wallboard

export async function wallboardView() {
  const body = h('div', { id: 'wallboard-body', 'aria-live': 'polite' });
  const el = h('section', { class: 'page wallboard' }, h('h1', null, t('wallboard.title')), h('p', { class: 'muted' }, t('wallboard.intro')), body);
  const today = periodRange('this_month');
  const todayOnly = { from: today.to, to: today.to };
  async function load() {
    const got = await attempt(() => Promise.all([api('GET', '/wallboard'), api('GET', '/agents'), fetchReport('volume', todayOnly), fetchReport('response', todayOnly)]));
    if (!got) return;
    const [board, agents, vol, resp] = got;
    const v = rowsOf(vol)[0] || {};
    const r = rowsOf(resp)[0] || {};
    const since = (iso) => (iso ? duration(Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000)) : '—');
    const waiting = board.queues.reduce((n, q) => n + q.waiting, 0);
    body.replaceChildren(
      h(
        'div',
        { class: 'cards', id: 'wallboard-cards' },
        card('waiting', t('wallboard.waiting'), waiting, null, number),
        card('online', t('wallboard.online'), agents.items.filter((a) => a.presence === 'online').length, null, number),
        card('today', t('wallboard.today_cases'), v.cases ?? 0, null, number),
        card('today_response', t('wallboard.today_first_response'), r.first_response_business_median_s, null, duration),
        card('at_risk', t('wallboard.at_risk'), board.at_risk.length, null, number),
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'h-queues' },
        h('h2', { id: 'h-queues' }, t('wallboard.queues')),
        board.queues.length
          ? table(t('wallboard.queues'), [[t('reports.unit'), (q) => unitName(q.unit_id)], [t('reports.channel'), (q) => t(`channel.${q.channel}`)], [t('wallboard.waiting'), (q) => number(q.waiting)], [t('wallboard.oldest'), (q) => since(q.oldest_since)]], board.queues)
          : h('p', { class: 'empty' }, t('wallboard.no_queue')),
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'h-agents' },
        h('h2', { id: 'h-agents' }, t('wallboard.agents')),
        table(t('wallboard.agents'), [[t('reports.agent'), (a) => a.display_name], [t('wallboard.presence'), (a) => t(`presence.${a.presence}`)], [t('wallboard.load'), (a) => number(a.load)]], agents.items),
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'h-risk' },
        h('h2', { id: 'h-risk' }, t('wallboard.at_risk')),
        board.at_risk.length
          ? table(t('wallboard.at_risk'), [[t('wallboard.case'), (c) => h('a', { href: `#/cases/${c.case_id}` }, `#${c.number} ${c.subject}`)], [t('reports.target'), (c) => c.target], [t('wallboard.state'), (c) => h('span', { class: `badge sla-${c.state}` }, t(`sla.${c.state}`))], [t('reports.agent'), (c) => userName(c.assignee_id)]], board.at_risk)
          : h('p', { class: 'empty' }, t('wallboard.none_at_risk')),
      ),
    );
  }
  await load();
  // Live: a change to a case or an agent's presence reads the board again
  // (at most once a second) while this view is shown.
  let timer = null;
  return {
    el,
    onEvent(event) {
      if (!/^(case|message|presence)\./.test(event.kind || '')) return;
      clearTimeout(timer);
      timer = setTimeout(load, 1000);
    },
    destroy() {
      clearTimeout(timer);
    },
  };
}
