"""What is fetched over the network and kept fresh: bounded fetches with a wall-clock deadline, the one
refreshing-value primitive, OpenID metadata and discovery, the signing keys, and the tenant list
(static, or read from Key Vault).

Private: the promise is `authorizer.__all__`; see docs/repository.md.
"""
