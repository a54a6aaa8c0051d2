// Members: the list (search by externalId, status filter, paging) and one member's record with
// seed 000's tabs plus points, freezes, leaderboards, analytics, activity per day, pause/resume.

import { call, collect } from './api.js';
import { activityChart, lastDays } from './charts.js';
import { facts, failure, fill, h, heading, link, loading, navigate, notify, pagedList, recordView, tabs, text, uid, when } from './dom.js';

const path = (id) => `/schema/account_user/record/${encodeURIComponent(id)}`;

export function membersView(query) {
  const searchId = uid('search');
  const statusId = uid('status');
  const search = h('input', { id: searchId, name: 'externalId', type: 'search', autocomplete: 'off' });
  search.value = query.get('externalId') ?? '';
  const status = h('select', { id: statusId, name: 'status' },
    [['', 'Any status'], ['live', 'live'], ['paused', 'paused'], ['draft', 'draft']].map(([v, l]) => h('option', { value: v }, l)));
  status.value = query.get('status') ?? '';
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Find members' },
    h('div', { class: 'field' }, h('label', { for: searchId }, 'External id'), search),
    h('div', { class: 'field' }, h('label', { for: statusId }, 'Status'), status),
    h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const params = new URLSearchParams();
    if (search.value.trim()) params.set('externalId', search.value.trim());
    if (status.value) params.set('status', status.value);
    navigate(`#/members${params.size ? `?${params}` : ''}`);
  });
  const filtered = query.get('externalId') || query.get('status');
  const list = pagedList({
    caption: 'Members',
    empty: filtered ? 'No member matches this search.' : 'No members yet: create them with POST /schema/account_user/record or track-user.',
    load: (cursor) => call('GET', '/schema/account_user/record', {
      query: { limit: 20, cursor, externalId: query.get('externalId'), status: query.get('status') },
    }),
    columns: [
      { label: 'External id', cell: (m) => link(`#/members/${encodeURIComponent(m.id)}`, m.externalId) },
      { label: 'Display name', cell: (m) => m.displayName },
      { label: 'Status', cell: (m) => statusBadge(m.status) },
      { label: 'Tier', cell: (m) => m.engagementTier },
      { label: 'Points', cell: (m) => m.pointsBalance },
      { label: 'Last seen', cell: (m) => when(m.lastSeenAt) },
    ],
  });
  return h('section', {}, heading('Members'), form, list);
}

export function statusBadge(status) {
  return h('span', { class: `badge ${status}` }, text(status));
}

export function memberView(id) {
  return recordView('Member', () => call('GET', path(id)), memberRecord, { class: 'member' });
}

function memberRecord(member, reload) {
  const next = member.status === 'live' ? 'paused' : 'live';
  const label = { live: 'Pause member', paused: 'Resume member' }[member.status] ?? 'Make member live';
  const toggle = h('button', { type: 'button', class: 'toggle' }, label);
  const toggleError = h('div', { class: 'form-error' });
  toggle.addEventListener('click', async () => {
    toggle.disabled = true;
    toggleError.replaceChildren();
    try {
      await call('PATCH', path(member.id), { body: { status: next } });
      notify(`${member.externalId} is now ${next}.`);
      await reload();
    } catch (error) {
      toggleError.append(failure(error));
      toggle.disabled = false;
    }
  });
  const title = heading(text(member.displayName ?? member.externalId), ' ', statusBadge(member.status));
  return [
    title,
    h('p', { class: 'subtitle' }, `externalId ${member.externalId} · id ${member.id}`),
    h('div', { class: 'actions' }, toggle, toggleError),
    h('div', { class: 'columns' },
      h('section', { 'aria-labelledby': 'profile-title' }, h('h2', { id: 'profile-title' }, 'Profile'), facts([
        ['First name', member.firstName], ['Last name', member.lastName], ['Email', member.email],
        ['Phone', member.phoneNumber], ['Country', member.country], ['Time zone', member.timezone],
        ['Device', member.device], ['Source', member.source], ['Tags', member.tags],
        ['Metadata', member.metadata ? h('pre', {}, JSON.stringify(member.metadata, null, 2)) : null],
        ['Points balance', member.pointsBalance], ['First seen', when(member.firstSeenAt)],
        ['Last seen', when(member.lastSeenAt)], ['Created', when(member.createdAt)],
      ], 'Profile')),
      h('section', { 'aria-labelledby': 'analytics-title' }, h('h2', { id: 'analytics-title' }, 'Engagement'), facts([
        ['Engagement score', member.engagementScore], ['Tier', member.engagementTier], ['Lifecycle', member.lifecycleStage],
        ['Total events', member.totalEvents], ['Plays', member.totalPlays], ['Plays, 7 days', member.plays7d],
        ['Plays, 30 days', member.plays30d], ['Points earned, 7 days', member.pointsEarned7d],
        ['Points earned, 30 days', member.pointsEarned30d], ['Campaigns joined', member.campaignsJoined],
        ['Win rate', member.winRate],
      ], 'Engagement'))),
    activity(member),
    memberTabs(member),
  ];
}

/** Logs per UTC day over 30 days, from the member's streak and challenge logs. */
function activity(member) {
  const box = h('section', { class: 'activity', 'aria-labelledby': 'activity-title' }, h('h2', { id: 'activity-title' }, 'Activity per day'), loading());
  const days = lastDays(30);
  const draw = async () => {
    try {
      const query = { ownedById: member.id, activityAtFrom: `${days[0]}T00:00:00Z` };
      const [streaks, challenges] = await Promise.all([
        collect('/schema/streak_log/record', query), collect('/schema/challenge_log/record', query)]);
      const counts = new Map();
      for (const log of [...streaks.items, ...challenges.items]) {
        const day = String(log.activityAt).slice(0, 10);
        counts.set(day, (counts.get(day) ?? 0) + 1);
      }
      const partial = streaks.complete && challenges.complete ? null : h('p', { class: 'note' }, 'Showing the first 1,000 logs of each kind.');
      fill(box, box.firstChild, activityChart('Logs per day, last 30 days (UTC)', counts, days), partial);
    } catch (error) {
      fill(box, box.firstChild, failure(error, draw));
    }
  };
  draw();
  return box;
}

/** Program names by id, read once per view (the first 100 streaks and challenges). */
let programNames = null;

/** Forgets the names: programs may have changed since the last view, or another account signed in. */
export function forgetProgramNames() {
  programNames = null;
}

function names() {
  programNames ??= Promise.all(['streak', 'challenge'].map((kind) => collect(`/schema/${kind}/record`, {}, 1)))
    .then((lists) => new Map(lists.flatMap((l) => l.items).map((p) => [p.id, p.name])))
    .catch(() => new Map()); // the id stays as the link's text
  return programNames;
}

/** A link to a program, showing its id until its name is known. */
export function programLink(kind, id) {
  const a = link(`#/programs/${kind}/${encodeURIComponent(id)}`, id);
  names().then((known) => { if (known.has(id)) a.textContent = known.get(id); });
  return a;
}

function memberTabs(member) {
  const own = (route) => (cursor) => call('GET', `${path(member.id)}/${route}`, { query: { limit: 20, cursor } });
  const filtered = (route) => (cursor) => call('GET', route, { query: { limit: 20, cursor, ownedById: member.id } });
  return h('section', { 'aria-label': 'Activity and progress' }, tabs('Member records', [
    { id: 'streak-progress', label: 'Streak Progress', panel: () => pagedList({
      caption: 'Streak progress', empty: 'No streak progress yet.', load: own('streak_progress'),
      columns: [
        { label: 'Streak', cell: (p) => programLink('streak', p.streakId) },
        { label: 'Periods', cell: (p) => p.currentProgressValue },
        { label: 'Status', cell: (p) => p.streakProgressStatus },
        { label: 'Started', cell: (p) => when(p.streakStartedAt) },
        { label: 'Completed', cell: (p) => when(p.streakCompletedAt) },
        { label: 'Broken', cell: (p) => when(p.streakBrokenAt) },
        { label: 'Freezes held / used', cell: (p) => `${p.freezesAvailable} / ${p.freezesUsed}` },
      ] }) },
    { id: 'challenge-progress', label: 'Challenge Progress', panel: () => pagedList({
      caption: 'Challenge progress', empty: 'No challenge progress yet.', load: own('challenge_progress'),
      columns: [
        { label: 'Challenge', cell: (p) => programLink('challenge', p.challengeId) },
        { label: 'Value', cell: (p) => p.currentProgressValue },
        { label: 'Status', cell: (p) => p.challengeProgressStatus },
        { label: 'Completed', cell: (p) => when(p.challengeCompletedAt) },
        { label: 'Failed', cell: (p) => when(p.challengeFailedAt) },
      ] }) },
    { id: 'streak-log', label: 'Streak Log', panel: () => pagedList({
      caption: 'Streak logs', empty: 'No streak logs yet.', load: own('streak_log'), columns: logColumns('streak', 'streakId') }) },
    { id: 'challenge-log', label: 'Challenge Log', panel: () => pagedList({
      caption: 'Challenge logs', empty: 'No challenge logs yet.', load: own('challenge_log'), columns: logColumns('challenge', 'challengeId') }) },
    { id: 'reward-log', label: 'Reward Log', panel: () => pagedList({
      caption: 'Rewards', empty: 'No rewards yet.', load: own('reward_log'),
      columns: [
        { label: 'Milestone', cell: (r) => r.milestone?.name ?? r.milestoneId },
        { label: 'Program', cell: (r) => programLink(r.linkedSchemaSlug, r.linkedSchemaRecordId) },
        { label: 'Points', cell: (r) => r.milestone?.rewardPoints },
        { label: 'Period', cell: (r) => r.periodKey },
        { label: 'Coupon', cell: (r) => r.couponCode },
        { label: 'Reached', cell: (r) => when(r.createdAt) },
      ] }) },
    { id: 'points', label: 'Points', panel: () => h('div', {},
      h('p', {}, `Balance: ${text(member.pointsBalance)}`),
      pagedList({
        caption: 'Points entries', empty: 'No points entries yet.', load: filtered('/schema/points_log/record'),
        columns: [
          { label: 'Amount', cell: (e) => e.amount },
          { label: 'Reason', cell: (e) => e.reason },
          { label: 'From reward', cell: (e) => e.rewardId },
          { label: 'Unique identifier', cell: (e) => e.uniqueIdentifier },
          { label: 'At', cell: (e) => when(e.activityAt) },
        ] })) },
    { id: 'freezes', label: 'Freezes', panel: () => pagedList({
      caption: 'Streak freezes granted', empty: 'No freezes granted.', load: filtered('/schema/streak_freeze/record'),
      columns: [
        { label: 'Streak', cell: (f) => programLink('streak', f.streakId) },
        { label: 'Count', cell: (f) => f.count },
        { label: 'Unique identifier', cell: (f) => f.uniqueIdentifier },
        { label: 'Granted', cell: (f) => when(f.grantedAt) },
      ] }) },
    { id: 'leaderboards', label: 'Leaderboards', panel: () => standings(member) },
  ]));
}

function logColumns(kind, field) {
  return [
    { label: 'Activity at', cell: (l) => when(l.activityAt) },
    { label: kind === 'streak' ? 'Streak' : 'Challenge', cell: (l) => programLink(kind, l[field]) },
    { label: 'Value', cell: (l) => l.activityValue },
    { label: 'Unique identifier', cell: (l) => l.uniqueIdentifier },
    { label: 'Counts', cell: (l) => (l.countsTowardProgress ? 'yes' : 'no') },
  ];
}

/** The member's rank on each live board (boards they have no score on say so). */
function standings(member) {
  const box = h('div', {}, loading());
  const load = async () => {
    try {
      const { items: boards } = await collect('/schema/leaderboard/record', { status: 'live' }, 1);
      const rows = await Promise.all(boards.map(async (board) => {
        try {
          const { data } = await call('GET', `/schema/leaderboard/record/${encodeURIComponent(board.id)}/rankings/${encodeURIComponent(member.id)}`);
          return { board, rank: data };
        } catch (error) {
          if (error.status === 404) return { board, rank: null };
          throw error;
        }
      }));
      const t = h('table', {}, h('caption', {}, 'Leaderboards'),
        h('thead', {}, h('tr', {}, ['Board', 'Period', 'Rank', 'Value', 'Percentile', 'Participants'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows.map(({ board, rank }) => h('tr', {},
          h('td', {}, link(`#/programs/leaderboard/${encodeURIComponent(board.id)}`, board.name)),
          h('td', {}, text(rank?.periodKey ?? board.period)),
          h('td', {}, rank ? String(rank.rank) : 'not ranked'),
          h('td', {}, text(rank?.value)),
          h('td', {}, text(rank?.percentile)),
          h('td', {}, text(rank?.totalParticipants))))));
      fill(box, t, rows.length ? null : h('p', { class: 'empty' }, 'No live leaderboards.'));
    } catch (error) {
      fill(box, failure(error, load));
    }
  };
  load();
  return box;
}
