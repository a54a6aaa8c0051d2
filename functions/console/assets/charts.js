// Two small SVG charts, drawn from numbers the page already has; each is an image with a text
// alternative that says every value.

import { h, svg } from './dom.js';

/** Horizontal bars with their labels and counts: a program's funnel. */
export function funnelChart(title, steps) {
  const width = 560;
  const row = 34;
  const labelWidth = 170;
  const max = Math.max(1, ...steps.map((s) => s.value));
  const summary = `${title}: ${steps.map((s) => `${s.label} ${s.value}`).join(', ')}`;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${row * steps.length}`, role: 'img', 'aria-label': summary, class: 'chart funnel' },
    steps.map((step, i) => {
      const barWidth = Math.round(((width - labelWidth - 60) * step.value) / max);
      const y = i * row;
      return svg('g', {},
        svg('text', { x: 0, y: y + 21, class: 'label' }, step.label),
        svg('rect', { x: labelWidth, y: y + 6, width: Math.max(barWidth, 2), height: row - 12, class: `bar ${step.tone ?? ''}`, rx: 3 }),
        svg('text', { x: labelWidth + Math.max(barWidth, 2) + 8, y: y + 21, class: 'value' }, String(step.value)));
    }));
  return h('figure', { class: 'figure' }, h('figcaption', {}, title), chart);
}

/** Columns per day: a member's activity over the last `days` days (UTC), oldest first. */
export function activityChart(title, counts, days) {
  const width = 600;
  const height = 140;
  const base = height - 22;
  const slot = width / days.length;
  const max = Math.max(1, ...days.map((d) => counts.get(d) ?? 0));
  const total = days.reduce((sum, d) => sum + (counts.get(d) ?? 0), 0);
  const busiest = days.reduce((best, d) => ((counts.get(d) ?? 0) > (counts.get(best) ?? 0) ? d : best), days[0]);
  const summary = total === 0
    ? `${title}: no activity from ${days[0]} to ${days[days.length - 1]}`
    : `${title}: ${total} logs from ${days[0]} to ${days[days.length - 1]}; most on ${busiest} (${counts.get(busiest)})`;
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': summary, class: 'chart activity' },
    svg('line', { x1: 0, y1: base, x2: width, y2: base, class: 'axis' }),
    days.map((day, i) => {
      const value = counts.get(day) ?? 0;
      const barHeight = Math.round(((base - 14) * value) / max);
      return svg('rect', { x: Math.round(i * slot + 2), y: base - barHeight, width: Math.max(1, Math.round(slot - 4)), height: barHeight, class: 'bar', 'data-day': day, 'data-count': value },
        svg('title', {}, `${day}: ${value}`));
    }),
    svg('text', { x: 0, y: height - 4, class: 'label' }, days[0]),
    svg('text', { x: width, y: height - 4, class: 'label end' }, days[days.length - 1]),
    svg('text', { x: 0, y: 11, class: 'label' }, `max ${max}/day`));
  return h('figure', { class: 'figure' }, h('figcaption', {}, title), chart, h('p', { class: 'summary' }, summary));
}

/** The last `n` UTC days as `YYYY-MM-DD`, oldest first. */
export function lastDays(n, now = new Date()) {
  const days = [];
  for (let i = n - 1; i >= 0; i -= 1) {
    days.push(new Date(now.getTime() - i * 86400000).toISOString().slice(0, 10));
  }
  return days;
}
