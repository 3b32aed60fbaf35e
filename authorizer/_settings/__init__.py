"""What the app is configured with: app settings read and checked once, local.settings.json as `func start`
applies it, and which optional extras are installed.

Private: the promise is `authorizer.__all__`; see docs/repository.md.
"""
