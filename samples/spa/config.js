// Edit for your tenant, or let `make demo` serve a generated one for the local issuer.
window.SPA_CONFIG = {
  clientId: "<SPA client id>",
  authority: "https://login.microsoftonline.com/<tenant id>",
  knownAuthorities: [],
  apiBase: "https://<app>.azurewebsites.net",
  apiScopePrefix: "api://<API client id>",
};
