// Forms whose errors are the API's own: a 400's `details` are shown beside the fields they name,
// anything else above the button; what was typed stays as it was until the API accepts it.

import { h, uid } from './dom.js';

const STATUS = ['draft', 'live', 'paused'];
const common = [
  { name: 'name', label: 'Name', type: 'text', required: true },
  { name: 'description', label: 'Description', type: 'textarea', nullable: true },
  { name: 'status', label: 'Status', type: 'select', options: STATUS },
];
const aggregation = [
  { name: 'aggregationMethod', label: 'Aggregation method', type: 'select', options: ['sum', 'count'] },
  { name: 'aggregationPeriod', label: 'Aggregation period', type: 'select', options: ['daily', 'weekly', 'monthly'] },
  { name: 'timezone', label: 'Time zone (IANA)', type: 'text' },
];

/** The fields of each program kind, as the API names them. `fixed`: only on create. */
export const PROGRAM_FIELDS = {
  streak: [...common, ...aggregation,
    { name: 'completionTargetValue', label: 'Periods to complete', type: 'number' },
    { name: 'aggregationTargetValue', label: 'Value a period needs', type: 'number' },
    { name: 'atRiskLeadMinutes', label: 'At-risk nudge, minutes before the period ends', type: 'number' },
    { name: 'maxFreezes', label: 'Freezes a member may hold', type: 'number' },
    { name: 'freezeEarnEveryPeriods', label: 'Earn a freeze every … completed periods', type: 'number', nullable: true }],
  challenge: [...common, ...aggregation,
    { name: 'completionTargetValue', label: 'Value to reach in a window', type: 'number' },
    { name: 'startAt', label: 'Starts at (ISO 8601)', type: 'text', nullable: true },
    { name: 'endAt', label: 'Ends at (ISO 8601)', type: 'text', nullable: true }],
  milestone: [...common,
    { name: 'linkedSchemaSlug', label: 'Program kind', type: 'select', options: ['streak', 'challenge'] },
    { name: 'linkedSchemaRecordId', label: 'Program id', type: 'text' },
    { name: 'milestoneTargetValue', label: 'Target value', type: 'number' },
    { name: 'rewardPoints', label: 'Reward points', type: 'number' }],
  leaderboard: [
    { name: 'name', label: 'Name', type: 'text', required: true },
    { name: 'description', label: 'Description', type: 'textarea', nullable: true },
    { name: 'status', label: 'Status', type: 'select', options: STATUS },
    { name: 'metric', label: 'Metric', type: 'select', options: ['points', 'plays', 'streak', 'challenge'], fixed: true },
    { name: 'streakId', label: 'Streak id (metric streak)', type: 'text', nullable: true, fixed: true },
    { name: 'challengeId', label: 'Challenge id (metric challenge)', type: 'text', nullable: true, fixed: true },
    { name: 'period', label: 'Period', type: 'select', options: ['daily', 'weekly', 'monthly', 'all_time'], fixed: true },
    { name: 'timezone', label: 'Time zone (IANA)', type: 'text', nullable: true, fixed: true }],
  webhook: [
    { name: 'url', label: 'URL', type: 'text', required: true },
    { name: 'description', label: 'Description', type: 'text', nullable: true },
    { name: 'events', label: 'Events (comma-separated; empty: every event)', type: 'list', nullable: true }],
};

function control(field, id, value, disabled) {
  const common = { id, name: field.name, disabled, 'aria-describedby': `${id}-error` };
  if (field.type === 'select') {
    const select = h('select', common, field.options.map((o) => h('option', { value: o }, o)));
    select.value = value ?? field.options[0];
    return select;
  }
  if (field.type === 'textarea') {
    const area = h('textarea', { ...common, rows: 2 });
    area.value = value ?? '';
    return area;
  }
  // Numbers are typed as text: the API, not the browser, says what is wrong with one.
  const input = h('input', { ...common, type: 'text', inputmode: field.type === 'number' ? 'decimal' : null, required: field.required, autocomplete: 'off' });
  input.value = field.type === 'list' ? (value ?? []).join(', ') : (value ?? '');
  return input;
}

function read(field, el) {
  const raw = el.value;
  if (field.type === 'select') return raw;
  if (field.type === 'list') {
    const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
    return items.length ? items : null;
  }
  if (raw.trim() === '') return null;
  if (field.type === 'number') {
    const n = Number(raw);
    return Number.isFinite(n) ? n : raw; // the API answers a clear 400 for a non-number
  }
  return raw;
}

/**
 * A form for `fields`, filled from `record` when editing. `submit(body)` calls the API; on
 * create the body holds the filled fields, on edit only those that changed.
 * @param {{fields: any[], record?: any, submitLabel: string, submit: (body: any) => Promise<void>}} options
 */
export function recordForm({ fields, record, submitLabel, submit }) {
  const editing = Boolean(record);
  const form = h('form', { class: 'record', novalidate: true });
  const inputs = new Map();
  for (const field of fields) {
    const id = uid(field.name);
    const disabled = editing && field.fixed;
    const el = control(field, id, record ? record[field.name] : undefined, disabled);
    inputs.set(field.name, { field, el });
    form.append(h('div', { class: 'field', 'data-field': field.name },
      h('label', { for: id }, field.label, disabled ? ' (fixed after create)' : ''),
      el,
      h('p', { class: 'field-error', id: `${id}-error` })));
  }
  const general = h('div', { class: 'form-error', role: 'alert' });
  const button = h('button', { type: 'submit' }, submitLabel);
  form.append(general, button);

  const body = () => {
    const out = {};
    for (const [name, { field, el }] of inputs) {
      if (editing && field.fixed) continue;
      const value = read(field, el);
      if (editing) {
        const before = record[name] ?? null;
        if (JSON.stringify(before) !== JSON.stringify(value)) out[name] = value;
      } else if (value !== null) out[name] = value;
    }
    return out;
  };
  const clear = () => {
    general.replaceChildren();
    for (const { el } of inputs.values()) {
      el.removeAttribute('aria-invalid');
      form.querySelector(`#${el.id}-error`).textContent = '';
    }
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clear();
    button.disabled = true;
    try {
      await submit(body());
    } catch (error) {
      showErrors(error);
    } finally {
      button.disabled = false;
    }
  });
  const showErrors = (error) => {
    const unplaced = [];
    let first = null;
    for (const detail of error.details ?? []) {
      const top = String(detail.field).split(/[.[]/)[0];
      const entry = inputs.get(top);
      if (!entry) { unplaced.push(`${detail.field}: ${detail.message}`); continue; }
      entry.el.setAttribute('aria-invalid', 'true');
      const slot = form.querySelector(`#${entry.el.id}-error`);
      slot.textContent = slot.textContent ? `${slot.textContent} ${detail.message}` : detail.message;
      first ??= entry.el;
    }
    general.append(h('p', {}, error.message), unplaced.map((m) => h('p', {}, m)));
    (first ?? button).focus();
  };
  return form;
}
