"""The node (`tes-node`): one module per stage.

`cli` (the command) -> `loop` (the Node: one step at a time) -> `ingest` (events into the store),
`view` (the step's chain reads), `schedule` (which jobs and seats pay), `preflight` (intake checks),
`submit` (intents into transactions), `release` (who may fetch a result), `retention`, `serve`
(HTTP: results and metrics), `store` (SQLite), `settings`, `metrics`. Execution backends live in
`oracle.execute`. A node host needs nothing from `oracle.client`, `oracle.localnet` or ape
(tests/unit/test_import_graph.py).
"""
