"""Keys and metadata over the network: bounded fetches with a wall-clock deadline, the one refreshing-value
primitive, OpenID discovery and the signing key set.

Private: the promise is `authorizer.__all__`; see docs/repository.md.
"""
