"""The shared core: what both the node and the client need and nothing either side alone needs.

Chain access and transaction status (`chain`), the on-chain shapes (`protocol`), bundles and their
archives (`bundle`, `archive`), results and their hashes (`results`), the commitment (`prove`), the
signed result request (`result_request`), the client's permit (`permit`), bundle fetching with its
network guards (`fetch`), safe tree removal (`tree`), the error types (`errors`), reverts read as
the contracts' named errors (`reverts`), amounts, durations and times as people type and read
them (`units`) and strict inputs with their "did you mean" (`strict`). Nothing here imports the
node, the client, the local network or ape.
"""
