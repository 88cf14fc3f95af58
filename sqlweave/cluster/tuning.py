"""DataFusion settings sqlweave's embedded engine applies on top of DataFusion's defaults.

Chosen by measurement with ``bench/tune_datafusion.py`` (TPC-H SF1, 22 queries, 2 cores,
datafusion 55, each setting against a default context in the same run; a second default
context gave the noise floor, 1-2%). Together they cut the 22-query total by 6.5% wall
time and 10% CPU time; individually:

==========================================================  ===========  ==========
setting                                                     wall         CPU
==========================================================  ===========  ==========
optimizer.hash_join_single_partition_threshold(_rows) 16M/1M  -4 to -7%    -5 to -7%
execution.use_row_number_estimates_to_optimize_partitioning  -5%          -4%
execution.enforce_batch_size_in_joins                        -4%          -4%
execution.skip_partial_aggregation_probe_rows_threshold 10k  0%           -3%
optimizer.repartition_joins = false (2 cores or fewer)       0 to -7%     -8%
==========================================================  ===========  ==========

Measured and rejected: parquet ``pushdown_filters`` (+13%) and with ``reorder_filters``
(+17%); ``batch_size`` 4k/16k/32k (0 to +6%); ``target_partitions`` 1 (+66%) or 4 (+2%);
``prefer_hash_join=false`` (+225%); ``collect_statistics=false`` (+50%); disabling the
parquet metadata cache (+6%: DataFusion's default 50 MB cache stays on);
``schema_force_view_types=false`` (-2.6%, within noise, and it would change result
types from string_view to string). No setting closes the gap to DuckDB (about 1.35x
on the same run), whose lead is in a few queries (q01, q05, q07, q15, q17, q18).

Keys are SessionConfig keys: apply them with ``SessionConfig().set(key, value)``.
"""

from __future__ import annotations

import os

_OPT = "datafusion.optimizer."
_EXE = "datafusion.execution."

DATAFUSION_DEFAULTS: dict[str, str] = {
    # collect a small join build side once instead of hash-repartitioning both inputs
    _OPT + "hash_join_single_partition_threshold": str(16 * 2**20),
    _OPT + "hash_join_single_partition_threshold_rows": str(1_000_000),
    _EXE + "use_row_number_estimates_to_optimize_partitioning": "true",
    _EXE + "enforce_batch_size_in_joins": "true",
    _EXE + "skip_partial_aggregation_probe_rows_threshold": "10000",
}

if (os.cpu_count() or 1) <= 2:
    # with two partitions, repartitioning join inputs costs more than it spreads; this was
    # only measured on 2 cores, and on many cores a partitioned build side scales better
    DATAFUSION_DEFAULTS[_OPT + "repartition_joins"] = "false"
