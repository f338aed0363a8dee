// A real OpenID provider for the single sign-on tests: the npm package oidc-provider (pinned in
// scripts/lib/oidc, installed into .tools/oidc by scripts/test), listening on 127.0.0.1 only.
//
// One confidential client (authorization code flow, PKCE required, client_secret_basic) and a
// minimal login page instead of the package's development screens: the test types an email and
// says whether the provider vouches for it (email_verified), and the consent is granted with the
// login, so one form post finishes the provider's side. "Cancel" answers access_denied.
//
// Environment: OIDC_MODULES (the node_modules folder holding oidc-provider), OIDC_PORT,
// OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS (comma-separated). Prints one line
// `ready <issuer>` when it listens.
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const modules = process.env.OIDC_MODULES;
const { default: Provider } = await import(
  pathToFileURL(join(modules, 'oidc-provider', 'lib', 'index.js')).href
);

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = new Map(); // sub -> { email, email_verified }, filled by the login page

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'tests-rs256', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: process.env.OIDC_CLIENT_ID,
      client_secret: process.env.OIDC_CLIENT_SECRET,
      redirect_uris: process.env.OIDC_REDIRECT_URIS.split(','),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  pkce: { required: () => true },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, sub) {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...account }) };
  },
});

function escape(text) {
  return String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function loginPage(uid) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test provider sign-in</title></head>
<body><h1>Test OpenID provider</h1>
<form method="post" action="/interaction/${escape(uid)}">
<label for="login-email">Email</label> <input id="login-email" name="email" type="email" required>
<label><input id="login-verified" name="verified" type="checkbox" value="1" checked> Email verified</label>
<button id="login-submit" type="submit" name="action" value="login">Sign in</button>
<button id="login-cancel" type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
</form></body></html>`;
}

async function body(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString());
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(loginPage(details.uid));
    return;
  }
  const form = await body(req);
  if (form.get('action') === 'cancel') {
    await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'cancelled' });
    return;
  }
  const email = (form.get('email') || '').trim();
  // one person per address, unless the test names the person (an address handed on to another)
  const person = (form.get('person') || email).toLowerCase();
  const sub = `sub-${createHash('sha256').update(person).digest('hex').slice(0, 16)}`;
  accounts.set(sub, { email, email_verified: form.get('verified') === '1' });
  const grant = new provider.Grant({ accountId: sub, clientId: details.params.client_id });
  grant.addOIDCScope('openid email');
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: sub }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

const callback = provider.callback();
createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((error) => {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`interaction failed: ${error.message}`);
    });
    return;
  }
  callback(req, res);
}).listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});
