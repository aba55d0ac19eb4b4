// A real OpenID Connect provider for the single sign-on tests (crates/cli/tests/oidc.rs):
// panva's oidc-provider, a certified OpenID Provider, with its development interactions (a login
// form that takes any password, then a consent form). Every login name is an account whose
// email is that name. It listens on a free port of 127.0.0.1 and prints its issuer on the first
// line of stdout. REDIRECT is the one redirect URI of its one client, `cardwatch`, whose secret
// is SECRET; AUTH_METHOD, if set, is the only way it takes the secret at the token endpoint
// (client_secret_post is how Microsoft Entra ID's discovery document lists it).
import http from 'node:http';
import Provider from 'oidc-provider';

const method = process.env.AUTH_METHOD;
const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'cardwatch',
      client_secret: process.env.SECRET,
      redirect_uris: [process.env.REDIRECT],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      ...(method ? { token_endpoint_auth_method: method } : {}),
    }],
    ...(method ? { clientAuthMethods: [method] } : {}),
    pkce: { methods: ['S256'], required: () => true },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    findAccount: (ctx, id) => ({
      accountId: id,
      claims: () => ({ sub: id, email: id, email_verified: true, name: id }),
    }),
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['cardwatch-test-cookie-key'] },
  });
  server.on('request', provider.callback());
  console.log(issuer);
});
