"""The offline stand-in: the pure decision, its shell, the journal and the platform snapshot it reads."""
