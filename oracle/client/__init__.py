"""Client side of TES: package a job, publish and submit it, watch it, fetch and verify its
result, dispute it. `Client` (sdk) for Python, `tes-client` (cli, its commands in `commands/`)
for the shell; `inputs` checks what the user gives, `views` what the client knows of a job and
checks a result against."""
