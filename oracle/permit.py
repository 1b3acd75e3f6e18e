"""EIP-2612 permits for the TES token, signed by any ape account (keystore, hardware wallet,
test account), so a client can escrow a job's payment in one transaction
(`JobMarket.createJobWithPermit`) instead of approve + createJob.

    permit = sign_permit(account, token, spender=market.address, value=payment, deadline=t)
    market.createJobWithPermit(request, permit.deadline, permit.v, permit.r, permit.s, sender=account)

The domain (name, version) is read from the token itself (ERC-5267 `eip712Domain()`), so a
redeployment under another name still signs correctly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account.messages import SignableMessage, encode_typed_data

from oracle.errors import OracleError

PERMIT_TYPES = {
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}


class PermitError(OracleError):
    """The account would not (or could not) sign the permit."""


@dataclass(frozen=True)
class Permit:
    owner: str
    spender: str
    value: int
    nonce: int
    deadline: int
    v: int
    r: bytes
    s: bytes


def permit_message(
    *,
    name: str,
    version: str,
    chain_id: int,
    token: str,
    owner: str,
    spender: str,
    value: int,
    nonce: int,
    deadline: int,
) -> SignableMessage:
    """The EIP-712 message `ERC20Permit.permit` checks."""
    return encode_typed_data(
        domain_data={
            "name": name,
            "version": version,
            "chainId": chain_id,
            "verifyingContract": token,
        },
        message_types=PERMIT_TYPES,
        message_data={
            "owner": owner,
            "spender": spender,
            "value": value,
            "nonce": nonce,
            "deadline": deadline,
        },
    )


def sign_permit(account: Any, token: Any, *, spender: str, value: int, deadline: int) -> Permit:
    """Signs a permit for `spender` to pull `value` of `token` (an ape contract instance) from
    `account` (an ape account) until `deadline`, at the token's current nonce for the account."""
    _, name, version, chain_id, verifying, _, _ = token.eip712Domain()
    owner = str(account.address)
    nonce = int(token.nonces(owner))
    msg = permit_message(
        name=name,
        version=version,
        chain_id=int(chain_id),
        token=str(verifying),
        owner=owner,
        spender=str(spender),
        value=int(value),
        nonce=nonce,
        deadline=int(deadline),
    )
    sig = account.sign_message(msg)
    if sig is None:
        raise PermitError(f"account {owner} did not sign the permit")
    return Permit(
        owner, str(spender), int(value), nonce, int(deadline), int(sig.v), bytes(sig.r), bytes(sig.s)
    )
