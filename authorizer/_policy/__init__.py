"""What a function requires of its caller, and how often: requirements as one table per caller kind,
effective permissions, refusals that say who grants what, and per-caller rate limits.

Private: the promise is `authorizer.__all__`; see docs/repository.md.
"""
