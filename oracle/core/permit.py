"""EIP-2612 permits for the TES token, signed by any ape account (keystore, hardware wallet,
test account), so a client can escrow a job's payment in one transaction
(`JobMarket.createJobWithPermit`) instead of approve + createJob.

    permit = sign_permit(account, token, spender=market.address, value=payment, deadline=t)
    # a web3 / eth-account client: Account.sign_message(permit_message(...).signable_message, key)
    market.createJobWithPermit(request, permit.deadline, permit.v, permit.r, permit.s, sender=account)

The domain (name, version) is read from the token itself (ERC-5267 `eip712Domain()`), so a
redeployment under another name still signs correctly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eip712.messages import EIP712Message
from eth_pydantic_types import abi

from oracle.core.errors import OracleError


class PermitError(OracleError):
    """The account would not (or could not) sign the permit."""


class Permit(EIP712Message):
    """`ERC20Permit`'s Permit struct (the class name is the EIP-712 type name). An ape keystore
    account shows these fields and the domain to its owner before signing;
    `.signable_message` is what eth-account signs."""

    owner: abi.address
    spender: abi.address
    value: abi.uint256
    nonce: abi.uint256
    deadline: abi.uint256


@dataclass(frozen=True)
class SignedPermit:
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
) -> Permit:
    """The EIP-712 message `ERC20Permit.permit` checks (domain: the token's name and version,
    chain id, token address)."""
    return Permit(
        owner=owner,
        spender=spender,
        value=value,
        nonce=nonce,
        deadline=deadline,
        eip712_name=name,
        eip712_version=version,
        eip712_chainId=chain_id,
        eip712_verifyingContract=token,
    )


def sign_permit(
    account: Any, token: Any, *, spender: str, value: int, deadline: int
) -> SignedPermit:
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
    return SignedPermit(
        owner,
        str(spender),
        int(value),
        nonce,
        int(deadline),
        int(sig.v),
        # ape's MessageSignature holds r and s as minimal big-endian bytes: one signature in 128
        # has a 31-byte r or s, which a bytes32 argument would pad on the right, into another value.
        bytes(sig.r).rjust(32, b"\x00"),
        bytes(sig.s).rjust(32, b"\x00"),
    )
