"""Calling other APIs: tokens on behalf of the caller (OBO) and as the app, through MSAL, secretless first.

Private: the promise is `authorizer.__all__`; see docs/repository.md.
"""
