// The console's shell: sign-in, the section links, and the router (`#/members/…`, `#/programs/…`,
// `#/webhooks/…`). Each view is a function of the route that answers the page's content.

import { ApiFailure, call, signIn, signOut, signedIn } from './api.js';
import { failure, fill, h, navigate, notify, uid } from './dom.js';
import { forgetProgramNames, membersView, memberView } from './members.js';
import { programsView, programView } from './programs.js';
import { webhooksView, endpointView } from './webhooks.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const signOutButton = document.getElementById('sign-out');
const account = document.getElementById('account');

/** `#/members/abc?status=live` → `{parts: ['members', 'abc'], query: URLSearchParams}`. */
function route() {
  const [path, search] = location.hash.replace(/^#\/?/, '').split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(search ?? '') };
}

function view({ parts, query }) {
  const [section, id, more] = parts;
  switch (section) {
    case 'members': return id ? memberView(id) : membersView(query);
    case 'programs': return id ? programView(id, more) : programsView();
    case 'webhooks': return id ? endpointView(id) : webhooksView();
    default: return null;
  }
}

function render() {
  forgetProgramNames();
  if (!signedIn()) {
    fill(main, signInView());
    main.querySelector('input').focus();
    return;
  }
  const current = route();
  const content = view(current);
  if (!content) {
    navigate('#/members');
    return;
  }
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === `#/${current.parts[0]}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  fill(main, content);
  (main.querySelector('h1') ?? main).focus();
}

function setSignedIn(on, label = '') {
  nav.hidden = !on;
  signOutButton.hidden = !on;
  account.textContent = label;
}

function signInView() {
  const keyId = uid('api-key');
  const secretId = uid('api-secret');
  const key = h('input', { id: keyId, name: 'apiKey', autocomplete: 'off', spellcheck: 'false', required: true });
  const secret = h('input', { id: secretId, name: 'apiSecret', type: 'password', autocomplete: 'off', required: true });
  const message = h('div', { class: 'form-error' });
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'sign-in', 'aria-labelledby': 'sign-in-title' },
    h('h1', { id: 'sign-in-title', tabindex: '-1' }, 'Sign in'),
    h('p', {}, 'Use an account\'s API key and its secret (ak_… and sk_…). They are kept in this tab\'s memory only: signing out or closing the tab forgets them.'),
    h('div', { class: 'field' }, h('label', { for: keyId }, 'API key'), key),
    h('div', { class: 'field' }, h('label', { for: secretId }, 'API secret'), secret),
    message, button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.replaceChildren();
    if (!key.value.trim() || !secret.value.trim()) {
      message.append(h('p', { role: 'alert' }, 'Enter both the API key and the secret.'));
      return;
    }
    button.disabled = true;
    signIn(key.value.trim(), secret.value.trim());
    try {
      // Any admin read proves the pair: a public key or a wrong secret is refused here.
      await call('GET', '/schema/account_user/record', { query: { limit: 1 } });
      setSignedIn(true, `Signed in with ${key.value.trim().slice(0, 12)}…`);
      render();
    } catch (error) {
      signOut();
      const shown = error instanceof ApiFailure && error.kind === 'forbidden'
        ? new ApiFailure('forbidden', 'These keys may not use the console: sign in with the account\'s secret key pair, not a public key.')
        : error;
      message.append(failure(shown));
      button.disabled = false;
    }
  });
  return form;
}

signOutButton.addEventListener('click', () => {
  signOut();
  setSignedIn(false);
  notify(''); // nothing of the session stays on screen
  render();
});
window.addEventListener('hashchange', render);
render();
