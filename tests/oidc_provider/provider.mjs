// A real OpenID Connect provider (node-oidc-provider) standing in for ID GOB.PE in the test suite.
//
// Usage: node provider.mjs <port>            (or OIDC_PORT=<port> node provider.mjs)
// Environment:
//   OIDC_CLIENT_ID, OIDC_CLIENT_SECRET   the one confidential client (the Plataforma MAC)
//   OIDC_REDIRECT_URIS                   comma-separated redirect URIs registered for that client
//   OIDC_ACCOUNTS                        optional JSON list of accounts:
//                                        [{"id": "...", "acr": "...", "claims": {"doc": "DNI:12345678", ...}}]
//
// Why a real provider and not a mock: the app must speak the protocol as a provider really answers it
// (discovery, PKCE S256 being enforced, signed ID tokens, nonce, userinfo), so the tests go through the
// whole authorization code flow over HTTP.
//
// The login is non-interactive so a test can drive it with an HTTP client:
//   GET /interaction/<uid>?cuenta=<account id>   logs that account in (with the account's acr)
//   GET /interaction/<uid>?cancelar=1            the person cancels (access_denied back to the app)
//   GET /interaction/<uid>                       login: a tiny page listing the accounts; consent: granted
// Tests add accounts at run time (their users have random DNIs):
//   POST /pruebas/cuentas  {"id": "...", "acr": "...", "claims": {...}}  -> 201
// It listens on 127.0.0.1 only: it is a test harness, never a real identity provider.

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? process.env.OIDC_PORT);
if (!Number.isInteger(port) || port <= 0) {
  console.error('Indique el puerto: node provider.mjs <puerto>');
  process.exit(2);
}
const host = '127.0.0.1';
const issuer = `http://${host}:${port}`;
const clientId = process.env.OIDC_CLIENT_ID ?? 'plataforma-mac';
const clientSecret = process.env.OIDC_CLIENT_SECRET ?? 'secreto-de-pruebas';
const redirectUris = (process.env.OIDC_REDIRECT_URIS ?? 'http://127.0.0.1:8000/ingresar/oidc/retorno')
  .split(',').map((uri) => uri.trim()).filter(Boolean);

// accountId -> { acr, claims }
const accounts = new Map();
function addAccount({ id, acr, claims }) {
  if (typeof id !== 'string' || !id) throw new TypeError('la cuenta necesita un "id"');
  accounts.set(id, { acr: acr ?? null, claims: { ...(claims ?? {}) } });
}
for (const account of JSON.parse(process.env.OIDC_ACCOUNTS ?? '[]')) addAccount(account);

// A fresh signing key per run: tests must fetch the JWKS, never assume a key.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `k-${randomBytes(4).toString('hex')}`, use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    // As ID GOB.PE, always state the level of assurance in the ID token (node-oidc-provider only adds
    // "acr" when acr values were asked for).
    default_acr_values: ['nivel-1', 'nivel-2', 'nivel-3'],
  }],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  // As ID GOB.PE: the person's document and, when acting for a company or entity, its RUC.
  scopes: ['openid', 'profile', 'email', 'doc', 'ruc'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name'],
    email: ['email', 'email_verified'],
    doc: ['doc'],
    ruc: ['ruc'],
  },
  acrValues: ['nivel-1', 'nivel-2', 'nivel-3'],
  // PKCE for every client, confidential ones included (the provider's default only forces it on public ones).
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return { accountId: sub, async claims() { return { sub, ...account.claims }; } };
  },
  async renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});
const providerCallback = provider.callback();

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

async function interaction(req, res, url) {
  const { prompt, params, session, grantId, uid } = await provider.interactionDetails(req, res);
  if (prompt.name === 'login') {
    if (url.searchParams.get('cancelar')) {
      return provider.interactionFinished(req, res, {
        error: 'access_denied', error_description: 'La persona canceló el ingreso',
      }, { mergeWithLastSubmission: false });
    }
    const id = url.searchParams.get('cuenta');
    if (!id) {
      const items = [...accounts.keys()].map((account) => (
        `<li><a href="/interaction/${escapeHtml(uid)}?cuenta=${encodeURIComponent(account)}">${escapeHtml(account)}</a></li>`
      )).join('');
      return send(res, 200, 'text/html; charset=utf-8',
        `<!doctype html><meta charset="utf-8"><title>Proveedor de pruebas</title><h1>Elija una cuenta</h1><ul>${items}</ul>`);
    }
    const account = accounts.get(id);
    if (!account) return send(res, 400, 'text/plain; charset=utf-8', `Cuenta desconocida: ${id}`);
    const login = { accountId: id, amr: ['pwd'] };
    if (account.acr) login.acr = account.acr;
    return provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
  }
  if (prompt.name === 'consent') {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { details } = prompt;
    if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
    if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } },
      { mergeWithLastSubmission: true });
  }
  return send(res, 501, 'text/plain; charset=utf-8', `Interacción no soportada: ${prompt.name}`);
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  try {
    if (url.pathname.startsWith('/interaction/') && req.method === 'GET') {
      await interaction(req, res, url);
      return;
    }
    if (url.pathname === '/pruebas/cuentas' && req.method === 'POST') {
      addAccount(await readJson(req));
      send(res, 201, 'application/json', '{"ok":true}');
      return;
    }
  } catch (error) {
    send(res, 400, 'text/plain; charset=utf-8', `Error: ${error.message}`);
    return;
  }
  providerCallback(req, res);
});

server.listen(port, host, () => {
  console.log(`proveedor OIDC de pruebas escuchando en ${issuer}`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
