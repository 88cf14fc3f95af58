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

Re-measured on top of these defaults (``bench/tune_datafusion.py --on-top``, three 22-query
runs on a loaded 2-core machine, each candidate against the two identical copies of the
defaults in the same run, "baseline-again" and "sqlweave", which differed from each other by
up to 11% wall and 3% CPU; the first-created "baseline" was the slowest in every run), none
beyond noise:

===========================================  ============  ===============================
candidate                                    wall          CPU
===========================================  ============  ===============================
parquet ``pushdown_filters``                 -1 to +10%    +11 to +14% (q17 -35%, q18 -25%,
                                                           q20 -10%; q06/q12/q15 +30-50%)
``target_partitions`` 3                      -20 to +7%    -1 to +4%
``target_partitions`` 4                      -9 to 0%      +0.4 to +1.4%
``enable_join_dynamic_filter_pushdown`` off  -2 to +8%     -1.3 to -0.4%
``enable_aggregate_dynamic_filter_pushdown`` +2 to +6%     +2 to +3%
off
``enable_topk_dynamic_filter_pushdown`` off  +5 to +9%     0 to +1%
``coalesce_batches=false``                   -6 to 0%      -1.6 to +0.5%
``split_file_groups_by_statistics``          +2 to +6%     0 to +1%
``repartition_file_scans=false``             -2 to +2%     0 to +1%
``bloom_filter_on_read=false``               +8 to +12%    +2 to +3%
``hash_join_buffering_capacity`` 64 MiB      +19 to +23%   +11 to +12%
===========================================  ============  ===============================

Extra partitions only help when other processes take a core (fewer stragglers); CPU is
unchanged. ``pushdown_filters`` wins where a join's dynamic filter is very selective (q17,
q18, q20) but arrow-rs's row filter costs more than it saves on static scan filters, and
DataFusion 55 cannot push only dynamic filters to the row level. Sub-options of pushdown
(``max_predicate_cache_size=0``, ``force_filter_selections``, ``reorder_filters``, no page
index) did not rescue q06/q12/q15. ``max_passes=1`` never finished q18. What DuckDB does
faster is not configurable here: decoding and filtering lineitem (q06 filter 2.1x, q12
filter 2.6x), decimal128 arithmetic (q01's ``sum(price * (1 - disc) * (1 + tax))`` 2.5x),
and q15's CTE, which DataFusion inlines and so scans twice while DuckDB materializes it.

Keys are SessionConfig keys: apply them with ``SessionConfig().set(key, value)``.
"""

from __future__ import annotations

import os

#: DataFusion settings that differ from sqlweave's defaults, as sorted (key, value) pairs
Settings = tuple[tuple[str, str], ...]


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
