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
