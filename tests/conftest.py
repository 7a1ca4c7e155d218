"""Suite-wide settings.

Hypothesis's per-example deadline (200 ms) measures the machine, not the code: on a loaded
CI runner a pure function can miss it and the test fails for no fault of the code. Speed is
measured by the benchmarks; here every example may take as long as it takes.
"""
from hypothesis import settings

settings.register_profile("suite", deadline=None)
settings.load_profile("suite")
