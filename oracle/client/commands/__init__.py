"""The commands of `tes-client`, by what they need: `local` (no chain), `jobs` (open and follow
jobs), `results` (a job's result, disputes and the client's money); `common` holds what they
share. `oracle.client.cli.main` gathers them."""
