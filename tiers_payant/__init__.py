"""The shared contract of the platform and the gateway.

Both services speak the same language: reason codes, problem documents, card format,
request schemas, NIR rules and the coverage computation. Keeping them in one package is
what makes "the gateway exposes the same shapes as the platform" true by construction.
Nothing in here does I/O or reads the clock.
"""
