"""oracle/core/permit.py: a permit signed by an ape account is accepted by the token."""

from eth_account.messages import encode_typed_data

from oracle.core.permit import permit_message, sign_permit
from tests.utils.constants import E18


def test_sign_permit__the_token_accepts_it_and_the_allowance_is_set(token, client, market, chain):
    deadline = chain.pending_timestamp + 600

    p = sign_permit(client, token, spender=market.address, value=5 * E18, deadline=deadline)
    token.permit(p.owner, p.spender, p.value, p.deadline, p.v, p.r, p.s, sender=client)

    assert token.allowance(client, market) == 5 * E18
    assert token.nonces(client) == p.nonce + 1


def test_permit_message__is_erc2612s_typed_data(token, client, market):
    fields = dict(owner=client.address, spender=market.address, value=1, nonce=0, deadline=2)
    domain = dict(name="TES Token", version="1", chainId=1, verifyingContract=token.address)
    types = [("owner", "address"), ("spender", "address"), ("value", "uint256")]
    types += [("nonce", "uint256"), ("deadline", "uint256")]

    msg = permit_message(
        name="TES Token", version="1", chain_id=1, token=token.address, **fields
    ).signable_message

    assert msg == encode_typed_data(
        domain_data=domain,
        message_types={"Permit": [{"name": n, "type": t} for n, t in types]},
        message_data=fields,
    )
