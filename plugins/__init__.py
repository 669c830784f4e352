"""Example user plugins: the pydantic models and custom checks the example suites name."""
