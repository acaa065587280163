"""Equal-budget tuning per method (`make tune`): Optuna ask/tell over the cell runner.

Layers, each importing only downwards: space (search spaces as data) and compose
(configs from the real tree) -> plan (what a run will do, checked) -> study (one
Optuna study per method) and final (best settings on fresh seeds) -> outputs ->
driver -> cli.
"""
