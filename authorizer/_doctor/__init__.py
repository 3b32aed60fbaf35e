"""`python -m authorizer doctor`: every problem of a deployment, each with its fix.

Private: the promise is `authorizer.__all__`; see docs/repository.md.
"""
