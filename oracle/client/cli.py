"""`tes-client`: package, publish, submit, watch, fetch, verify and dispute TES compute jobs.

The key is an ape account (an encrypted keystore under $APE_DATA_FOLDER/accounts, default
~/.ape); its passphrase comes from TES_PASSPHRASE or --passphrase-file, never the command line.
Contract addresses come from the deployment record written by `ape run deploy`.
"""

from __future__ import annotations

import sys

import click

from oracle.client.commands import jobs, local, results


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def main() -> None:
    """Client of the TES compute market: pay nodes to run your jobs and check what they return.

    \b
    A typical job, end to end:
      tes-client package --kind train --config cfg.json --out job.tar.gz
      tes-client run-local job.tar.gz              # optional: try it in the sandbox first
      tes-client publish job.tar.gz &              # or: --file for a file:// URI
      tes-client deposit 100                       # optional: jobs paid from it, no permit each
      tes-client submit job.tar.gz --uri URI --payment 10 --replicas 3
      tes-client watch JOB_ID
      tes-client jobs                              # every job of yours, from the chain alone
      tes-client fetch JOB_ID --out result/        # checked against the job's on-chain record
      tes-client verify JOB_ID result/             # again, later (k = 1: with result.tes-salt)
    """


for command in (
    local.kinds, local.package, local.run_local, local.publish,
    jobs.submit, jobs.watch, jobs.status, jobs.jobs_list,
    results.fetch, results.verify, results.dispute, results.cancel, results.deposit,
    results.withdraw, results.balance,
):  # fmt: skip
    main.add_command(command)


if __name__ == "__main__":
    sys.exit(main())
