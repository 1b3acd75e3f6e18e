// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IJobMarketTypes} from "../interfaces/IJobMarket.sol";

/// @title JobTermsLib
/// @notice A job's id is the hash of its terms: whoever holds the terms (from `JobCreated`) can
///         check them against the id, and the market can be handed them back as calldata.
library JobTermsLib {
    /// @notice The terms `q` fixes for `client` now: the market's current rates and `nonce`.
    function fromRequest(
        IJobMarketTypes.JobRequest calldata q,
        address client,
        uint40 claimDeadline,
        IJobMarketTypes.Parameters storage p,
        uint256 nonce
    ) internal view returns (IJobMarketTypes.JobTerms memory) {
        return IJobMarketTypes.JobTerms({
            client: client,
            bundleHash: q.bundleHash,
            payment: q.payment,
            collateral: q.collateral,
            replicas: q.replicas,
            claimDeadline: claimDeadline,
            protocolFeeBps: p.protocolFeeBps,
            keeperBountyBps: p.keeperBountyBps,
            requirements: q.requirements,
            claimWindow: q.claimWindow,
            executionWindow: q.executionWindow,
            revealWindow: q.revealWindow,
            disputeWindow: q.disputeWindow,
            nonce: uint64(nonce)
        });
    }

    function id(IJobMarketTypes.JobTerms memory terms) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(terms)));
    }

    /// @notice The id of terms passed back as calldata. Every field is fixed-size, so the terms'
    ///         ABI encoding is their 18 calldata words as sent: hashing those bytes as they are
    ///         skips a copy, and bytes that are not the canonical encoding (dirty high bits) hash
    ///         to no job at all, since every id was hashed from a canonical encoding.
    function idOf(IJobMarketTypes.JobTerms calldata terms) internal pure returns (uint256 jobId) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, terms, 576)
            jobId := keccak256(ptr, 576)
        }
    }
}

/// @notice What a payout reads of a job, whether from its terms (a one-slot k = 1 job) or from its
///         stored record (a disputed one).
struct JobMoney {
    uint96 payment;
    uint96 collateral;
    uint16 protocolFeeBps;
    uint16 keeperBountyBps;
}

using JobMoneyLib for JobMoney global;

library JobMoneyLib {
    uint256 internal constant BPS = 10_000;

    function fromTerms(IJobMarketTypes.JobTerms calldata t) internal pure returns (JobMoney memory) {
        return JobMoney(t.payment, t.collateral, t.protocolFeeBps, t.keeperBountyBps);
    }

    /// @notice The protocol fee on the payment, at the rate fixed at creation.
    function fee(JobMoney memory m) internal pure returns (uint256) {
        return uint256(m.payment) * m.protocolFeeBps / BPS;
    }

    /// @notice A keeper's bounty on `amount`, at the rate fixed at creation.
    function bounty(JobMoney memory m, uint256 amount) internal pure returns (uint256) {
        return amount * m.keeperBountyBps / BPS;
    }
}
