"""Client side of TES: package a job, publish and submit it, watch it, fetch and verify its
result, dispute it. `Client` (sdk) for Python, `tes-client` (cli) for the shell."""
