"""`make bench`: how fast a TES network on this machine is, and where the time goes.

    python -m oracle.localnet.bench                 # the full run (~5 min on 2 cores): docs/bench.json + docs/BENCHMARKS.md
    python -m oracle.localnet.bench --quick         # a smoke test with tiny N (well under a minute)
    python -m oracle.localnet.bench --e2e-jobs 100 --json out.json --md out.md

One anvil chain is started and the contracts deployed (as in `make demo`), with a node licence,
owner and operator key for each of three nodes, then:

1. anvil's own ceiling: plain ETH transfers signed with eth_account and sent as raw transactions
   through web3 (as the node sends), waiting for each receipt in turn (with the node's per-tx
   reads: nonce, fees, gas estimate) and pipelined (all sent, then all receipts);
2. end to end: N short `command` jobs (k = 1) submitted in a burst by the client SDK (a permit
   each), run by real `tes-node run` processes, from the client starting `submit` to the job being
   Accepted ("proven") and Paid (the node settles (settleAndWithdraw) once the 1 s dispute window
   has passed in chain time; a block is mined every 0.5 s so chain time moves as it would on a
   real chain) — with proof batching (--batch-size 20) and without (--batch-size 1), with three
   nodes, and with 50 ms added to every JSON-RPC round trip of node and client by a local proxy
   (`rpcproxy.RpcProxy`); JSON-RPC requests per settled job by method and side (anvil's log, the
   client's provider, the proxies);
3. the same short jobs straight on the node's backend (LocalSandboxBackend): with the chain's
   ceiling (anvil's pipelined transactions per second ÷ transactions per job), the yardstick of
   the end-to-end throughput;
4. oracle overhead: the same set of 1-second jobs (sleep 1 s, write a file) through the network
   (submission -> proven) and straight on the node's backend with the same number of workers;
5. scaling: one set of CPU-bound jobs on LocalSandboxBackend with 1, 2 and 4 workers;
6. gas: copied from docs/gas.json (`make gas`).

Modules: `common` (sizes, job sources, backend runs), `rpcproxy`, `chainwatch` (anvil's ceiling,
the event watcher), `network` (setup and one phase), `runs` (the whole run, the headline keys and
targets), `report` (docs/BENCHMARKS.md), `cli`.
"""
