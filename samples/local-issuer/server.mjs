// A local, Entra-shaped OpenID issuer for development and tests. Never for production.
//
// oauth2-mock-server does the OAuth work (authorize with PKCE, token grants, signing); this wrapper
// adds Entra's path layout for any tenant, v1 and v2 metadata, Entra-shaped claims, key rotation,
// and client_info so that MSAL.js runs in its AAD mode, unchanged from production.
import https from "node:https";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { OAuth2Issuer, OAuth2Service } from "oauth2-mock-server";

const { values: options } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    cert: { type: "string" },
    key: { type: "string" },
    "api-client-id": { type: "string", default: "aaaaaaaa-0000-4000-8000-00000000a91e" },
    "home-tenant": { type: "string", default: "11111111-1111-4111-8111-111111111111" },
    "token-version": { type: "string", default: "2" },
  },
});
const API = options["api-client-id"];
const HOME = options["home-tenant"];
const MULTI_TENANT = new Set(["common", "organizations"]);
const DAEMON_OID = "eeeeeeee-0000-4000-8000-000000000002";

// Dev users, chosen with login_hint (MSAL: loginHint) or username; ada is the default.
const USERS = {
  ada: { oid: "dddddddd-0000-4000-8000-000000000001", name: "Ada Lovelace", tenant: HOME, roles: ["Orders.Writer"] },
  bob: { oid: "dddddddd-0000-4000-8000-000000000002", name: "Bob Builder", tenant: HOME, roles: [] },
  eve: { oid: "dddddddd-0000-4000-8000-000000000003", name: "Eve Outsider", tenant: "33333333-3333-4333-8333-333333333333", roles: [] },
};

let base = "";
const published = []; // every public key ever used: tokens signed before a rotation stay valid
const usersByCode = new Map();
const usersByRefreshToken = new Map();
let current; // { issuer, service }: signs with the newest key only

function userNamed(hint) {
  const name = String(hint ?? "ada").split("@")[0].toLowerCase();
  return { username: `${name}@contoso.example`, ...(USERS[name] ?? USERS.ada) };
}

function issuerFor(tenant, version) {
  return version === "1.0" ? `https://sts.windows.net/${tenant}/` : `${base}/${tenant}/v2.0`;
}

function entraClaims(request, payload) {
  const body = request.body ?? {};
  const version = String(body.token_version ?? options["token-version"]) === "1" ? "1.0" : "2.0";
  const appOnly = body.grant_type === "client_credentials";
  const user =
    body.grant_type === "authorization_code" ? usersByCode.get(body.code) :
    body.grant_type === "refresh_token" ? usersByRefreshToken.get(body.refresh_token) :
    userNamed(body.username);
  const tenant = body.dev_tenant || (appOnly ? HOME : (user ?? userNamed()).tenant);
  const client = String(body.client_id ?? "cccccccc-0000-4000-8000-0000000000dd");
  const requested = String(body.scope ?? "").split(" ").filter(Boolean);
  const prefix = `api://${API}/`;
  const apiScopes = requested.filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length));
  const common = { iss: issuerFor(tenant, version), iat: payload.iat, nbf: payload.nbf, exp: payload.exp, tid: tenant, ver: version, uti: randomUUID() };
  if (appOnly) {
    const roles = body.dev_app_roles ? String(body.dev_app_roles).split(",") : ["Orders.Read.All"];
    return { ...common, aud: version === "1.0" ? `api://${API}` : API, oid: DAEMON_OID, sub: DAEMON_OID, idtyp: "app", roles, [version === "1.0" ? "appid" : "azp"]: client };
  }
  const who = user ?? userNamed();
  const roles = body.dev_roles !== undefined ? String(body.dev_roles).split(",").filter(Boolean) : who.roles;
  const person = { oid: who.oid, sub: `${who.oid}-${client}`.slice(0, 43), name: who.name, idtyp: "user" };
  if (apiScopes.length === 0) {
    // Asked for no API scope: in Entra that is a Microsoft Graph token, not one for this API.
    return { ...common, ...person, aud: "00000003-0000-0000-c000-000000000000", scp: "openid profile User.Read", azp: client };
  }
  const scp = apiScopes.includes(".default") ? "Orders.Read Orders.Write" : apiScopes.join(" ");
  const identity = version === "1.0"
    ? { aud: `api://${API}`, appid: client, upn: who.username, unique_name: who.username }
    : { aud: API, azp: client, preferred_username: who.username };
  return { ...common, ...person, ...identity, scp, ...(roles.length ? { roles } : {}) };
}

function idTokenClaims(request, payload) {
  const body = request.body ?? {};
  const who = (body.grant_type === "authorization_code" ? usersByCode.get(body.code) : usersByRefreshToken.get(body.refresh_token)) ?? userNamed();
  return {
    iss: issuerFor(who.tenant, "2.0"), aud: payload.aud, iat: payload.iat, nbf: payload.nbf, exp: payload.exp,
    tid: who.tenant, oid: who.oid, sub: `${who.oid}-${payload.aud}`.slice(0, 43), name: who.name,
    preferred_username: who.username, ver: "2.0", ...(payload.nonce ? { nonce: payload.nonce } : {}),
  };
}

async function rotate() {
  const issuer = new OAuth2Issuer();
  issuer.url = base;
  const kid = `dev-key-${published.length + 1}-${randomUUID().slice(0, 8)}`;
  const key = await issuer.keys.generate("RS256", { kid });
  const service = new OAuth2Service(issuer);
  service.on("beforeTokenSigning", (token, request) => {
    // The library builds the access token with a "scope" claim and the ID token without one.
    token.payload = "scope" in token.payload ? entraClaims(request, token.payload) : idTokenClaims(request, token.payload);
  });
  service.on("beforeAuthorizeRedirect", (redirect, request) => {
    const code = redirect.url.searchParams.get("code");
    if (code) usersByCode.set(code, userNamed(request.query.login_hint));
  });
  service.on("beforeResponse", (response, request) => {
    const body = response.body;
    if (!body || !body.refresh_token) return;
    const who = (request.body.grant_type === "refresh_token" ? usersByRefreshToken.get(request.body.refresh_token) : usersByCode.get(request.body.code)) ?? userNamed(request.body.username);
    usersByRefreshToken.set(body.refresh_token, who);
    // MSAL's AAD mode builds the account from client_info, as Entra sends it.
    body.client_info = Buffer.from(JSON.stringify({ uid: who.oid, utid: who.tenant })).toString("base64url");
  });
  published.push({ kty: key.kty, n: key.n, e: key.e, kid: key.kid, alg: "RS256", use: "sig" });
  current = { issuer, service };
  return kid;
}

function metadata(tenant, version) {
  const named = MULTI_TENANT.has(tenant) ? "{tenantid}" : tenant;
  const v2 = version === "2.0";
  const endpoint = (name) => `${base}/${tenant}/oauth2${v2 ? "/v2.0" : ""}/${name}`;
  return {
    issuer: issuerFor(named, version),
    authorization_endpoint: endpoint("authorize"),
    token_endpoint: endpoint("token"),
    end_session_endpoint: endpoint("logout"),
    jwks_uri: `${base}/${tenant}/discovery${v2 ? "/v2.0" : ""}/keys`,
    response_types_supported: ["code"],
    response_modes_supported: ["query", "fragment", "form_post"],
    subject_types_supported: ["pairwise"],
    id_token_signing_alg_values_supported: ["RS256"],
    code_challenge_methods_supported: ["S256"],
    scopes_supported: ["openid", "profile", "email", "offline_access"],
  };
}

function send(response, status, body) {
  response.writeHead(status, {
    "Content-Type": "application/json",
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "*",
    "Cache-Control": "no-store",
  });
  response.end(body === undefined ? "" : JSON.stringify(body));
}

const LIBRARY_PATHS = { authorize: "/authorize", token: "/token", logout: "/endsession" };

async function handle(request, response) {
  const url = new URL(request.url, base);
  const path = url.pathname;
  let match;
  if (request.method === "POST" && path === "/_dev/rotate") return send(response, 200, { kid: await rotate() });
  if ((match = path.match(/^\/([^/]+)(\/v2\.0)?\/\.well-known\/openid-configuration$/))) {
    return request.method === "OPTIONS" ? send(response, 204) : send(response, 200, metadata(match[1], match[2] ? "2.0" : "1.0"));
  }
  if ((match = path.match(/^\/([^/]+)\/discovery(\/v2\.0)?\/keys$/))) {
    return request.method === "OPTIONS" ? send(response, 204) : send(response, 200, { keys: published });
  }
  if ((match = path.match(/^\/([^/]+)\/oauth2(\/v2\.0)?\/(authorize|token|logout)$/))) {
    request.url = LIBRARY_PATHS[match[3]] + url.search;
    return current.service.requestHandler(request, response);
  }
  return send(response, 404, { error: "not_found" });
}

const server = https.createServer({ cert: readFileSync(options.cert), key: readFileSync(options.key) }, (request, response) => {
  handle(request, response).catch((error) => send(response, 500, { error: "server_error", error_description: String(error) }));
});
server.listen(Number(options.port), "127.0.0.1", async () => {
  base = `https://127.0.0.1:${server.address().port}`;
  await rotate();
  // The launcher waits for this line.
  console.log(`local Entra issuer listening on ${base}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
// The launcher holds our stdin: when it goes away, however it went, so do we.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
