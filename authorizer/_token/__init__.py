"""The token itself: strict parsing, the RS256 verify, claim checks, the principal, guests, the validated-token
cache, and the authenticator that walks a header to a principal.

Private: the promise is `authorizer.__all__`; see docs/repository.md.
"""
