"""Local fixtures for the TES token: a contract minter and an EIP-2612 permit signer."""

import pytest
from eth_account.messages import encode_typed_data

from tests.utils.constants import GENESIS_SUPPLY, TOKEN_CAP

PERMIT_TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
        {"name": "verifyingContract", "type": "address"},
    ],
    "Permit": [
        {"name": "owner", "type": "address"},
        {"name": "spender", "type": "address"},
        {"name": "value", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
}


@pytest.fixture(scope="module", autouse=True)
def _roles_first(deployer, treasury, client, node_owner, operator, keeper, stranger):
    """Pulls the session role fixtures before any module state, so ape need not rebase."""


@pytest.fixture(scope="module")
def token(project, deployer, treasury):
    """A fresh, unwired token per module (same arguments as the shared fixture).

    Overrides tests/conftest.py's session `token`: once any earlier test pulls the shared `rewards`
    fixture, ape keeps that session fixture alive and the shared token already has its minter, so
    tests of the wiring itself need their own.
    """
    return project.TESToken.deploy(treasury, TOKEN_CAP, GENESIS_SUPPLY, sender=deployer)


@pytest.fixture
def minter(project, deployer, token):
    """A contract standing in for the rewards contract, wired as the only minter."""
    m = project.MockTESMinter.deploy(sender=deployer)
    token.setMinter(m, sender=deployer)
    return m


@pytest.fixture
def sign_permit(chain, token):
    """Factory: `signer` signs an EIP-2612 permit (for `owner`, by default itself); returns (v, r, s)."""

    def sign(signer, spender, value, deadline, nonce=None, verifying_contract=None, owner=None):
        message = {
            "types": PERMIT_TYPES,
            "primaryType": "Permit",
            "domain": {
                "name": "TES Token",
                "version": "1",
                "chainId": chain.chain_id,
                "verifyingContract": str(verifying_contract or token.address),
            },
            "message": {
                "owner": str((owner or signer).address),
                "spender": str(spender.address if hasattr(spender, "address") else spender),
                "value": value,
                "nonce": token.nonces(owner or signer) if nonce is None else nonce,
                "deadline": deadline,
            },
        }
        sig = signer.sign_message(encode_typed_data(full_message=message))
        # r and s come as minimal bytes: pad, or one signature in 128 turns into another value.
        return sig.v, bytes(sig.r).rjust(32, b"\x00"), bytes(sig.s).rjust(32, b"\x00")

    return sign
