// Mint an end-user token in your backend (Node 18+, no package; with `jsonwebtoken` it is
// jwt.sign({ sub: accountId, userData: { externalId } }, apiSecret, { algorithm: 'HS256', keyid: apiKey, expiresIn: '15m' })).
// Usage: node enduser-token.mjs <apiKey> <apiSecret> <accountId> <externalId>
import { createHmac } from 'node:crypto';

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

export function enduserToken(apiKey, apiSecret, accountId, externalId, minutes = 15) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64({ alg: 'HS256', typ: 'JWT', kid: apiKey });
  const claims = b64({ sub: accountId, iat: now, exp: now + 60 * minutes, userData: { externalId } });
  const signature = createHmac('sha256', apiSecret).update(`${header}.${claims}`).digest('base64url');
  return `${header}.${claims}.${signature}`;
}

if (process.argv.length >= 6) console.log(enduserToken(...process.argv.slice(2, 6)));
