"""Per-caller rate limits: their settings and notation, the RateLimit header fields, and counting in a store.

Private: the promise is `authorizer.__all__`; see docs/repository.md.
"""
