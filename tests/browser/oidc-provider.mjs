// A real OpenID Provider for the single sign-on tests: panva's
// oidc-provider (OpenID Certified), from the npm registry, with its
// development sign-in pages (any login; the accounts file says who that
// is). The accounts file is read at every request, so a test can take a
// group away between two sign-ins.
//
// node oidc-provider.mjs <port> <accounts.json> <client-secret> <redirect-uri>...
import Provider from 'oidc-provider';
import { generateKeyPair, exportJWK } from 'jose';
import { readFileSync } from 'node:fs';

const [port, accountsFile, secret, ...redirectUris] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const key = { ...(await exportJWK(privateKey)), kid: 'test-key-1', use: 'sig', alg: 'RS256' };

const accounts = () => JSON.parse(readFileSync(accountsFile, 'utf8'));

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'ventanilla',
      client_secret: secret,
      redirect_uris: redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  jwks: { keys: [key] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  async findAccount(_ctx, id) {
    const found = accounts()[id];
    if (!found) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...found }) };
  },
  cookies: { keys: ['a-cookie-key-for-tests-only'] },
  features: { devInteractions: { enabled: true } },
});

provider.listen(Number(port), '127.0.0.1', () => console.log(`ready ${issuer}`));
