// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @notice What the market keeps per address, in one storage slot: the TES credited to it
///         (deposits, refunds, bounties, bonds returned) and its two nonces. A client's job
///         creation reads its balance, its job nonce and (on a quote) its quote nonce: one slot
///         touched instead of three (a global job counter and two per-client mappings), 10,000 gas
///         of cold reads and updates less per job.
/// @dev    128 bits hold any TES amount (the supply is far below 2^128 wei); every addition is
///         checked. 64-bit nonces cannot wrap: one per transaction.
struct Account {
    uint128 credited;
    uint64 quoteNonce;
    uint64 jobNonce;
}

library AccountLib {
    /// @notice Credits `amount` (reverts past 2^128 - 1 instead of wrapping).
    function credit(Account storage a, uint256 amount) internal {
        a.credited = SafeCast.toUint128(a.credited + amount);
    }
}
