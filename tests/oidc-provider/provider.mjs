// A real, certified OpenID provider (panva/node-oidc-provider) for confab's sign-in
// tests. Starts on 127.0.0.1 on a free port with one client for confab and prints
// `{"issuer": "..."}` on one line once it answers. Configured by the environment:
//
//   OIDC_PROVIDER_MODULES  the node_modules folder holding oidc-provider (`npm ci` here)
//   OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI  confab's registration
//   OIDC_ACCOUNTS  JSON: account id -> claims ({"email", "email_verified", "name"})
//
// Sign-in uses oidc-provider's development interactions: POST the login form with any
// account id as `login`, then the consent form. PKCE is required for every client.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set`);
  return value;
};

const modules = env('OIDC_PROVIDER_MODULES');
const { default: Provider } = await import(pathToFileURL(join(modules, 'oidc-provider', 'lib', 'index.js')).href);
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS || '{}');

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

// A fresh signing key per run: nothing secret is kept in the repository.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rsa', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: env('OIDC_CLIENT_ID'),
    client_secret: env('OIDC_CLIENT_SECRET'),
    redirect_uris: [env('OIDC_REDIRECT_URI')],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // Put the scopes' claims in the ID token, as Google and most providers do.
  conformIdTokenClaims: false,
  async findAccount(_ctx, sub) {
    return { accountId: sub, claims: async () => ({ sub, ...accounts[sub] }) };
  },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));
server.on('request', provider.callback());
console.log(JSON.stringify({ issuer }));
