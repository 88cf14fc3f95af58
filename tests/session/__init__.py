"""Tests of ``Session`` and the modules under it: statements, parameters, rendering,
the warehouse, notebook DataFrames and engine errors."""
