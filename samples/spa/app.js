// The sample SPA: sign in with MSAL.js, get a token for the API silently, call it, show the answer.
const config = window.SPA_CONFIG;
const $ = (id) => document.getElementById(id);

const msalInstance = await msal.createStandardPublicClientApplication({
  auth: {
    clientId: config.clientId,
    authority: config.authority,
    knownAuthorities: config.knownAuthorities,
    redirectUri: new URL("redirect.html", window.location.href).href,
    // "I can answer a claims challenge": the API may then ask for a step-up instead of refusing.
    clientCapabilities: ["cp1"],
  },
  cache: { cacheLocation: "sessionStorage" },
});
let account = msalInstance.getAllAccounts()[0] ?? null;
const scope = (name) => `${config.apiScopePrefix}/${name}`;

// Before anything else: can this browser reach the issuer at all? (A certificate it does not trust
// looks the same to a page as an issuer that is down: say both, and what to do.)
async function checkIssuer() {
  const status = $("issuer-status");
  const issuer = new URL(config.authority).origin;
  try {
    const response = await fetch(`${config.authority}/v2.0/.well-known/openid-configuration`, { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    status.textContent = "";
    status.dataset.state = "reachable";
    return true;
  } catch (error) {
    status.textContent = `Sign-in cannot reach the issuer at ${issuer} (${error.message}). ${config.issuerHelp ?? "Check the network and the authority in config.js."}`;
    status.dataset.state = "unreachable";
    return false;
  }
}

function showAccount() {
  $("account").textContent = account ? `Signed in as ${account.username} (tenant ${account.tenantId})` : "Not signed in.";
}

async function signIn() {
  $("sign-in-error").textContent = "";
  try {
    const result = await msalInstance.loginPopup({ scopes: [scope("Orders.Read")], loginHint: $("login-hint").value });
    account = result.account;
    msalInstance.setActiveAccount(account);
    showAccount();
    return account.username;
  } catch (error) {
    // MSAL.js 5 error messages are links: the code says what happened.
    $("sign-in-error").textContent = `Sign-in failed: ${error.errorCode ?? error.message}`;
    await checkIssuer();
    throw error;
  }
}

// Call the API with a token for the given scopes; the answer, challenge included, lands in #result.
// A claims challenge (401 insufficient_claims) is a step-up: MSAL asks the user to meet the
// authentication context in a popup, and the call is made once more with the new token.
async function call(path, { method = "GET", scopes = ["Orders.Read"], body, forceRefresh = false, token } = {}) {
  const accessToken = token ?? (await msalInstance.acquireTokenSilent({ account, scopes: scopes.map(scope), forceRefresh })).accessToken;
  const headers = { Authorization: `Bearer ${accessToken}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(config.apiBase + path, { method, headers, body: body && JSON.stringify(body) });
  // Readable only because the API exposes WWW-Authenticate to CORS.
  const challenge = response.headers.get("WWW-Authenticate");
  const claims = challenge?.includes('error="insufficient_claims"') ? challenge.match(/claims="([^"]*)"/)?.[1] : null;
  if (response.status === 401 && claims && token === undefined) {
    $("step-up").textContent = "The API asks for a stronger sign-in for this operation.";
    const stepped = await msalInstance.acquireTokenPopup({ account, scopes: scopes.map(scope), claims: atob(claims) });
    const answer = await call(path, { method, scopes, body, token: stepped.accessToken });
    return { ...answer, steppedUp: true };
  }
  const challengeScope = challenge?.match(/scope="([^"]*)"/)?.[1] ?? null;
  const text = await response.text();
  let parsed;
  try { parsed = JSON.parse(text); } catch { parsed = text; }
  const answer = { status: response.status, body: parsed, challenge, scope: challengeScope };
  $("challenge-scope").textContent = challengeScope ? `The API asks for: ${challengeScope}` : "";
  $("result").textContent = JSON.stringify(answer, null, 2);
  $("result").dataset.status = String(response.status);
  return answer;
}

$("sign-in").onclick = () => signIn();
$("me").onclick = () => call("/api/me");
$("orders").onclick = () => call("/api/orders");
$("create-order").onclick = () => call("/api/orders", { method: "POST", scopes: ["Orders.Write"], body: { item: "Tea", quantity: 2 } });
$("create-order-read-only").onclick = () => call("/api/orders", { method: "POST", scopes: ["Orders.Read"], body: { item: "Tea" } });
$("profile").onclick = () => call("/api/me/profile", { scopes: ["Profile.Read"] });
$("messages").onclick = async () => {
  const answer = await call("/api/me/messages", { scopes: ["Profile.Read"] });
  $("result").textContent = JSON.stringify(answer, null, 2);
  $("result").dataset.steppedUp = String(Boolean(answer.steppedUp));
};
$("approve").onclick = async () => {
  const answer = await call("/api/orders/1001/approve", { method: "POST", scopes: ["Orders.Write"] });
  $("result").textContent = JSON.stringify(answer, null, 2);
  $("result").dataset.steppedUp = String(Boolean(answer.steppedUp));
};
showAccount();
await checkIssuer();
// For the browser tests, which drive the same functions the buttons do.
window.spa = { signIn, call, checkIssuer, ready: true };
