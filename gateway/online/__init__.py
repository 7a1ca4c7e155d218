"""The online path: one hop to the platform, timeouts, retries, the shared circuit breaker."""
