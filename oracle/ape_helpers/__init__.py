"""What the `ape run` scripts share: amounts, durations and addresses as a user types them, the
deployment record of the connected network, and reverts turned into messages a person can act on.

    amount = parse_tes("1.5e21 wei")                      # 1_500 * 10**18
    d = load_deployment(provider, path)                   # contracts of the connected network
    receipt = transact("buy", d.licence.buy, 0, 1, value=price, sender=account)
    # on a revert: ScriptError("buy failed: tier 0 is sold out [NodeLicense.NodeLicenseSoldOut(...)]")

Every failure the scripts expect is a `ScriptError` (a click exception: "Error: ..." on stderr,
exit status 1), never a traceback.

The scripts import from here; the parts live in `params` (option types, ScriptError), `signing`
(--yes, --passphrase-file), `network` (the deployment record of the connected network) and
`reverts` (decoded errors as sentences, `transact`); amounts, durations and times are the shared
`oracle.core.units`.
"""

from oracle.ape_helpers.network import (
    DEV_CHAIN_IDS,
    deployment_option,
    deployment_path,
    is_dev_network,
    load_deployment,
    node_of_owner,
    node_record,
    now,
    owned_licences,
    record_name,
)
from oracle.ape_helpers.params import (
    ADDRESS,
    ETH,
    TES,
    AddressParam,
    Amount,
    Duration,
    ScriptError,
    Timestamp,
    resolve_address,
)
from oracle.ape_helpers.reverts import (
    EXPLAIN,
    GAS_HEADROOM_PCT,
    decode_revert,
    echo_tx,
    explain_revert,
    transact,
)
from oracle.ape_helpers.signing import (
    PASSPHRASE_ENV,
    account_ref,
    read_passphrase,
    signing_options,
    unlock_account,
)
from oracle.core.reverts import Revert
from oracle.core.units import (
    E18,
    SHOWN_DECIMALS,
    format_amount,
    format_duration,
    format_eth,
    format_tes,
    format_time,
    parse_amount,
    parse_duration,
    parse_eth,
    parse_tes,
    parse_time,
)

__all__ = [
    "ADDRESS", "DEV_CHAIN_IDS", "E18", "ETH", "EXPLAIN", "GAS_HEADROOM_PCT", "PASSPHRASE_ENV",
    "SHOWN_DECIMALS", "TES", "AddressParam", "Amount", "Duration", "Revert", "ScriptError",
    "Timestamp", "account_ref", "decode_revert", "deployment_option", "deployment_path", "echo_tx",
    "explain_revert", "format_amount", "format_duration", "format_eth", "format_tes", "format_time",
    "is_dev_network", "load_deployment", "node_of_owner", "node_record", "now", "owned_licences",
    "parse_amount", "parse_duration", "parse_eth", "parse_tes", "parse_time", "read_passphrase",
    "record_name", "resolve_address", "signing_options", "transact", "unlock_account",
]  # fmt: skip
