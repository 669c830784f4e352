"""promptcheck: regression tests for prompts, run by pytest.

Suites of prompts are sampled many times against a model; every output is scored by format
checks and judges; the conformance rate of each case is decided against a threshold, and a new
model is compared against a baseline. Importing this package is cheap: no model libraries.
"""

__version__ = "0.1.0"
