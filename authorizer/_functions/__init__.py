"""The Azure Functions surface: the decorator, the checked FunctionApp, the process runtime and its wiring,
answers, markers, the rate gate, decision logs, host.json and RFC 9728 resource metadata.

Private: the promise is `authorizer.__all__`; see docs/repository.md.
"""
