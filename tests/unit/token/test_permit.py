"""EIP-2612 permit: a signed approval that anyone may relay."""

import ape

MAX = 2**256 - 1


def test_domain__names_tes_token_version_1(token, chain):
    fields, name, version, chain_id, verifying, salt, extensions = token.eip712Domain()
    assert (name, version, chain_id, verifying) == ("TES Token", "1", chain.chain_id, token.address)


def test_permit__relayed_by_stranger__sets_allowance_and_bumps_nonce(
    token, treasury, client, stranger, sign_permit, chain
):
    deadline = chain.pending_timestamp + 3600
    v, r, s = sign_permit(treasury, client, 7 * 10**18, deadline)
    assert token.nonces(treasury) == 0
    tx = token.permit(treasury, client, 7 * 10**18, deadline, v, r, s, sender=stranger)
    assert token.allowance(treasury, client) == 7 * 10**18
    assert token.nonces(treasury) == 1
    [log] = tx.decode_logs(token.Approval)
    assert (log.owner, log.spender, log.value) == (treasury.address, client.address, 7 * 10**18)


def test_permit__then_transfer_from__moves_tokens(
    token, treasury, client, stranger, sign_permit, chain
):
    deadline = chain.pending_timestamp + 3600
    v, r, s = sign_permit(treasury, client, 7 * 10**18, deadline)
    token.permit(treasury, client, 7 * 10**18, deadline, v, r, s, sender=stranger)
    before = token.balanceOf(treasury)
    token.transferFrom(treasury, stranger, 3 * 10**18, sender=client)
    assert token.balanceOf(treasury) == before - 3 * 10**18
    assert token.balanceOf(stranger) == 3 * 10**18
    assert token.allowance(treasury, client) == 4 * 10**18


def test_permit__from_generated_account__works(
    token, accounts, client, stranger, sign_permit, chain
):
    holder = accounts.generate_test_account()
    deadline = chain.pending_timestamp + 60
    v, r, s = sign_permit(holder, client, MAX, deadline)
    token.permit(holder, client, MAX, deadline, v, r, s, sender=stranger)
    assert token.allowance(holder, client) == MAX


def test_permit__replayed__reverts(token, treasury, client, stranger, sign_permit, chain):
    deadline = chain.pending_timestamp + 3600
    v, r, s = sign_permit(treasury, client, 1, deadline)
    token.permit(treasury, client, 1, deadline, v, r, s, sender=stranger)
    with ape.reverts(token.ERC2612InvalidSigner):
        token.permit(treasury, client, 1, deadline, v, r, s, sender=stranger)


def test_permit__after_deadline__reverts(token, treasury, client, stranger, sign_permit, chain):
    deadline = chain.pending_timestamp + 10
    v, r, s = sign_permit(treasury, client, 1, deadline)
    chain.pending_timestamp += 11
    with ape.reverts(token.ERC2612ExpiredSignature, deadline=deadline):
        token.permit(treasury, client, 1, deadline, v, r, s, sender=stranger)


def test_permit__signed_by_someone_else__reverts(
    token, treasury, client, stranger, sign_permit, chain
):
    deadline = chain.pending_timestamp + 3600
    v, r, s = sign_permit(stranger, client, 1, deadline, owner=treasury)
    with ape.reverts(token.ERC2612InvalidSigner, signer=stranger.address, owner=treasury.address):
        token.permit(treasury, client, 1, deadline, v, r, s, sender=stranger)


def test_permit__with_changed_value__reverts(token, treasury, client, stranger, sign_permit, chain):
    deadline = chain.pending_timestamp + 3600
    v, r, s = sign_permit(treasury, client, 1, deadline)
    with ape.reverts(token.ERC2612InvalidSigner):
        token.permit(treasury, client, 2, deadline, v, r, s, sender=stranger)


def test_permit__for_other_contract__reverts(
    project, token, deployer, treasury, client, stranger, sign_permit, chain
):
    other = project.TESToken.deploy(treasury, 100, 10, sender=deployer)
    deadline = chain.pending_timestamp + 3600
    v, r, s = sign_permit(treasury, client, 1, deadline, verifying_contract=other.address)
    with ape.reverts(token.ERC2612InvalidSigner):
        token.permit(treasury, client, 1, deadline, v, r, s, sender=stranger)
