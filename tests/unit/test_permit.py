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


def test_sign_permit__a_signature_with_a_short_r_or_s__is_still_accepted(
    token, client, market, chain
):
    """ape hands r and s back as minimal bytes; about one signature in 128 has a 31-byte r or s,
    which must reach the token left-padded (a bytes32 pads on the right)."""
    base = chain.pending_timestamp + 600
    for offset in range(4_000):
        p = sign_permit(client, token, spender=market.address, value=E18, deadline=base + offset)
        raw = client.sign_message(
            permit_message(
                name="TES Token",
                version="1",
                chain_id=chain.chain_id,
                token=token.address,
                owner=client.address,
                spender=market.address,
                value=E18,
                nonce=p.nonce,
                deadline=p.deadline,
            )  # fmt: skip
        )
        if min(len(bytes(raw.r)), len(bytes(raw.s))) < 32:
            break
    else:
        raise AssertionError("no short r or s in 4,000 signatures")
    assert len(p.r) == len(p.s) == 32
    token.permit(p.owner, p.spender, p.value, p.deadline, p.v, p.r, p.s, sender=client)
    assert token.allowance(client, market) == E18
