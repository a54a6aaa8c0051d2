// Webhooks: endpoints (create, enable or disable, send a test), each endpoint's deliveries with
// their status and attempts, and replay.

import { call, idempotencyKeys } from './api.js';
import { facts, failure, fill, h, heading, link, navigate, notify, pagedList, recordView, text, when } from './dom.js';
import { PROGRAM_FIELDS, recordForm } from './forms.js';

const ENDPOINTS = '/v1/webhooks/endpoints';
const endpointPath = (id) => `${ENDPOINTS}/${encodeURIComponent(id)}`;

export function webhooksView() {
  const keys = idempotencyKeys();
  const created = h('div', { class: 'secret', role: 'status' });
  return h('section', {}, heading('Webhooks'),
    pagedList({
      caption: 'Endpoints',
      empty: 'No endpoints yet: add one below.',
      load: (cursor) => call('GET', ENDPOINTS, { query: { limit: 20, cursor } }),
      columns: [
        { label: 'URL', cell: (e) => link(`#/webhooks/${encodeURIComponent(e.id)}`, e.url) },
        { label: 'Status', cell: (e) => e.status },
        { label: 'Events', cell: (e) => (e.events?.length ? e.events.join(', ') : 'every event') },
        { label: 'Created', cell: (e) => when(e.createdAt) },
      ],
    }),
    h('section', { 'aria-labelledby': 'new-endpoint' }, h('h2', { id: 'new-endpoint' }, 'New endpoint'), created, recordForm({
      fields: PROGRAM_FIELDS.webhook,
      submitLabel: 'Add endpoint',
      submit: async (body) => {
        const { data } = await call('POST', ENDPOINTS, { body, idempotencyKey: keys.for(body) });
        keys.done();
        notify(`Added ${data.url}.`);
        fill(created, h('p', {}, 'Signing secret (shown once; copy it now): '), h('code', {}, data.secret),
          h('p', {}, link(`#/webhooks/${encodeURIComponent(data.id)}`, 'Open the endpoint')));
      },
    })));
}

export function endpointView(id) {
  return recordView('Endpoint', () => call('GET', endpointPath(id)), endpointRecord);
}

function endpointRecord(endpoint, reload) {
  const message = h('div', { class: 'form-error' });
  const act = (label, run) => {
    const button = h('button', { type: 'button' }, label);
    button.addEventListener('click', async () => {
      button.disabled = true;
      message.replaceChildren();
      try {
        await run();
      } catch (error) {
        message.append(failure(error));
      } finally {
        button.disabled = false;
      }
    });
    return button;
  };
  const next = endpoint.status === 'enabled' ? 'disabled' : 'enabled';
  const toggle = act(endpoint.status === 'enabled' ? 'Disable endpoint' : 'Enable endpoint', async () => {
    await call('PATCH', endpointPath(endpoint.id), { body: { status: next } });
    notify(`The endpoint is now ${next}.`);
    reload();
  });
  const test = act('Send a test event', async () => {
    await call('POST', `${endpointPath(endpoint.id)}/test`, { idempotencyKey: crypto.randomUUID?.() });
    notify('Test event queued.');
    navigate(`#/webhooks/${encodeURIComponent(endpoint.id)}`);
  });
  const deliveries = pagedList({
    caption: 'Deliveries',
    empty: 'Nothing delivered to this endpoint yet.',
    load: (cursor) => call('GET', `${endpointPath(endpoint.id)}/deliveries`, { query: { limit: 20, cursor } }),
    columns: [
      { label: 'Event', cell: (d) => d.eventType },
      { label: 'Event id', cell: (d) => d.id },
      { label: 'Status', cell: (d) => h('span', { class: `badge ${d.status}` }, d.status) },
      { label: 'Attempts', cell: (d) => d.attempts },
      { label: 'Last response', cell: (d) => d.lastResponseCode ?? d.lastError },
      { label: 'Next attempt', cell: (d) => when(d.nextAttemptAt) },
      { label: 'Created', cell: (d) => when(d.createdAt) },
      { label: 'Replay', cell: (d) => act(`Replay ${d.eventType}`, async () => {
        await call('POST', `${endpointPath(endpoint.id)}/deliveries/${encodeURIComponent(d.id)}/replay`);
        notify(`Replay of ${d.id} queued.`);
        reload();
      }) },
    ],
  });
  return [
    heading(text(endpoint.url)),
    facts([['Status', endpoint.status], ['Disabled because', endpoint.disabledReason], ['Description', endpoint.description],
      ['Events', endpoint.events?.length ? endpoint.events.join(', ') : 'every event'], ['Created', when(endpoint.createdAt)]], 'Endpoint'),
    h('div', { class: 'actions' }, toggle, test), message,
    h('section', { 'aria-labelledby': 'deliveries-title' }, h('h2', { id: 'deliveries-title' }, 'Deliveries'), deliveries),
  ];
}
