"""Which tenants may call: the tenant policy (a static list, or one refreshed from Key Vault) and the Key Vault read.

Private: the promise is `authorizer.__all__`; see docs/repository.md.
"""
