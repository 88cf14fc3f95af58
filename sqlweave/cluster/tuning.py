"""DataFusion settings sqlweave's embedded engine applies (chosen by bench/tune_datafusion.py)."""

DATAFUSION_DEFAULTS: dict[str, str] = {}
