"""Local fixtures for the TES token: a contract minter and an EIP-2612 permit signer."""

import pytest
from eth_account.messages import encode_typed_data

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


@pytest.fixture(scope="session")
def minter(project, deployer, token):
    """A contract standing in for the rewards contract, wired as the only minter."""
    m = project.MockTESMinter.deploy(sender=deployer)
    token.setMinter(m, sender=deployer)
    return m


@pytest.fixture(scope="session")
def sign_permit(chain, token):
    """Factory: `signer` signs an EIP-2612 permit for `token`; returns (v, r, s)."""

    def sign(signer, spender, value, deadline, nonce=None, verifying_contract=None):
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
                "owner": str(signer.address),
                "spender": str(spender.address if hasattr(spender, "address") else spender),
                "value": value,
                "nonce": token.nonces(signer) if nonce is None else nonce,
                "deadline": deadline,
            },
        }
        sig = signer.sign_message(encode_typed_data(full_message=message))
        return sig.v, sig.r, sig.s

    return sign
