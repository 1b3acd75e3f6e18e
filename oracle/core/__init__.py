"""The shared core: what both the node and the client need and nothing either side alone needs.

Chain access and transaction status (`chain`), the on-chain shapes (`protocol`), bundles and their
archives (`bundle`, `archive`), results and their hashes (`results`), the commitment (`prove`), the
signed result request (`result_request`), the client's permit (`permit`), bundle fetching with its
network guards (`fetch`), safe tree removal (`tree`) and the error types (`errors`). Nothing here
imports the node, the client, the local network or ape.
"""
