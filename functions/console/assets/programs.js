// Programs: streaks, challenges, milestones and leaderboards listed, created and edited (the API's
// field errors beside the fields); a streak's or challenge's funnel; a leaderboard's standings.

import { call, collect, idempotencyKeys } from './api.js';
import { funnelChart } from './charts.js';
import { failure, fill, h, heading, link, loading, navigate, notify, pagedList, recordView, text, when } from './dom.js';
import { PROGRAM_FIELDS, recordForm } from './forms.js';
import { programLink, statusBadge } from './members.js';

const KINDS = {
  streak: { title: 'Streaks', one: 'streak', path: '/schema/streak/record' },
  challenge: { title: 'Challenges', one: 'challenge', path: '/schema/challenge/record' },
  milestone: { title: 'Milestones', one: 'milestone', path: '/schema/milestone/record' },
  leaderboard: { title: 'Leaderboards', one: 'leaderboard', path: '/schema/leaderboard/record' },
};

const summary = {
  streak: (p) => `${p.completionTargetValue} ${p.aggregationPeriod ?? 'daily'} periods of ${p.aggregationTargetValue}`,
  challenge: (p) => `${p.completionTargetValue} per ${p.aggregationPeriod ?? 'daily'} window`,
  milestone: (p) => h('span', {}, `${p.linkedSchemaSlug} `, programLink(p.linkedSchemaSlug, p.linkedSchemaRecordId),
    ` at ${p.milestoneTargetValue}: ${p.rewardPoints ?? 0} points`),
  leaderboard: (p) => `${p.metric}, ${p.period}`,
};

export function programsView() {
  return h('section', {}, heading('Programs'),
    Object.entries(KINDS).map(([kind, k]) => h('section', { class: 'program-list', 'aria-labelledby': `${kind}-title` },
      h('div', { class: 'row' }, h('h2', { id: `${kind}-title` }, k.title), link(`#/programs/${kind}/new`, `New ${k.one}`)),
      pagedList({
        caption: k.title,
        empty: `No ${k.title.toLowerCase()} yet.`,
        load: (cursor) => call('GET', k.path, { query: { limit: 20, cursor } }),
        columns: [
          { label: 'Name', cell: (p) => link(`#/programs/${kind}/${encodeURIComponent(p.id)}`, p.name) },
          { label: 'Status', cell: (p) => statusBadge(p.status) },
          { label: 'Rule', cell: (p) => summary[kind](p) },
          { label: 'Updated', cell: (p) => when(p.updatedAt) },
        ],
      }))));
}

export function programView(kind, id) {
  const k = KINDS[kind];
  if (!k) return h('section', {}, heading('Programs'), h('p', {}, `There is no program kind "${kind}".`));
  if (id === 'new' || id === undefined) return createView(kind, k);
  const at = `${k.path}/${encodeURIComponent(id)}`;
  return recordView(k.one, () => call('GET', at), (data, reload) => [
    heading(text(data.name), ' ', statusBadge(data.status)),
    h('p', { class: 'subtitle' }, `${k.one} · id ${data.id} · `, summary[kind](data)),
    kind === 'leaderboard' ? rankings(data) : null,
    kind === 'streak' || kind === 'challenge' ? funnel(kind, data) : null,
    h('section', { 'aria-labelledby': 'edit-title' }, h('h2', { id: 'edit-title' }, `Edit ${k.one}`), recordForm({
      fields: PROGRAM_FIELDS[kind],
      record: data,
      submitLabel: 'Save changes',
      submit: async (body) => {
        if (Object.keys(body).length === 0) { notify('Nothing changed.'); return; }
        await call('PATCH', at, { body });
        notify(`Saved ${data.name}.`);
        reload();
      },
    })),
  ]);
}

function createView(kind, k) {
  const keys = idempotencyKeys();
  return h('section', {}, heading(`New ${k.one}`), recordForm({
    fields: PROGRAM_FIELDS[kind],
    submitLabel: `Create ${k.one}`,
    submit: async (body) => {
      const { data } = await call('POST', k.path, { body, idempotencyKey: keys.for(body) });
      keys.done();
      notify(`Created ${k.one} ${data.name}.`);
      navigate(`#/programs/${kind}/${encodeURIComponent(data.id)}`);
    },
  }));
}

/** Members joined, and where each member's latest run or window stands. */
function funnel(kind, program) {
  const box = h('section', { 'aria-labelledby': 'funnel-title' }, h('h2', { id: 'funnel-title' }, 'Funnel'), loading());
  const statusField = kind === 'streak' ? 'streakProgressStatus' : 'challengeProgressStatus';
  const ended = kind === 'streak' ? 'broken' : 'failed';
  const draw = async () => {
    try {
      const { items, complete } = await collect(`/schema/${kind}_progress/record`, { [`${kind}Id`]: program.id });
      const latest = new Map();
      for (const p of items) {
        const seen = latest.get(p.ownedById);
        if (!seen || String(p.createdAt) > String(seen.createdAt)) latest.set(p.ownedById, p);
      }
      const count = (s) => [...latest.values()].filter((p) => p[statusField] === s).length;
      fill(box, box.firstChild, funnelChart(`Members of ${program.name}, by their latest ${kind === 'streak' ? 'run' : 'window'}`, [
        { label: 'Joined', value: latest.size, tone: 'joined' },
        { label: 'In progress', value: count('in_progress'), tone: 'progress' },
        { label: 'Completed', value: count('completed'), tone: 'completed' },
        { label: ended === 'broken' ? 'Broken' : 'Failed', value: count(ended), tone: 'ended' },
      ]), complete ? null : h('p', { class: 'note' }, 'Counted over the first 1,000 progress records.'));
    } catch (error) {
      fill(box, box.firstChild, failure(error, draw));
    }
  };
  draw();
  return box;
}

function rankings(board) {
  const box = h('section', { 'aria-labelledby': 'standings-title' }, h('h2', { id: 'standings-title' }, 'Standings'));
  const header = h('p', { class: 'subtitle' });
  box.append(header, pagedList({
    caption: `Standings of ${board.name}`,
    empty: 'Nobody has a score in this period yet.',
    load: async (cursor) => {
      const answer = await call('GET', `/schema/leaderboard/record/${encodeURIComponent(board.id)}/rankings`, { query: { limit: 25, cursor } });
      const d = answer.data;
      header.textContent = `Period ${d.periodKey} · ${d.totalParticipants} participants${d.final ? ' · final' : ''}`;
      return { data: d.rankings, paging: answer.paging };
    },
    columns: [
      { label: 'Rank', cell: (r) => r.rank },
      { label: 'Member', cell: (r) => link(`#/members/${encodeURIComponent(r.ownedById)}`, r.externalId) },
      { label: 'Display name', cell: (r) => r.displayName },
      { label: 'Value', cell: (r) => r.value },
      { label: 'Reached', cell: (r) => when(r.reachedAt) },
    ],
  }));
  return box;
}
