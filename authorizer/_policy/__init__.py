"""What a function requires of its caller: requirements as one table per caller kind, effective permissions,
and the refusal that says what is missing and who can grant it.

Private: the promise is `authorizer.__all__`; see docs/repository.md.
"""
