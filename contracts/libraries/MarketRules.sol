// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IJobMarket, IJobMarketTypes} from "../interfaces/IJobMarket.sol";

/// @title MarketRules
/// @notice What the market accepts: job requests and governance parameters, checked in one place.
library MarketRules {
    uint256 internal constant BPS = 10_000;
    uint256 internal constant MAX_PROTOCOL_FEE_BPS = 1_000; // 10 %
    uint256 internal constant MAX_KEEPER_BOUNTY_BPS = 500; // 5 %
    uint256 internal constant MAX_REPLICAS = 15;
    uint256 internal constant MAX_WINDOW = 30 days;

    function checkRequest(IJobMarketTypes.JobRequest calldata q, IJobMarketTypes.Parameters storage p) internal view {
        if (q.bundleHash == bytes32(0)) revert IJobMarketTypes.JobMarketInvalidBundleHash();
        uint256 minJobFee = p.minJobFee;
        if (q.payment < minJobFee) revert IJobMarketTypes.JobMarketPaymentBelowMinimum(q.payment, minJobFee);
        uint256 minCollateral = uint256(q.payment) * p.minCollateralBps / BPS;
        if (q.collateral < minCollateral) revert IJobMarketTypes.JobMarketCollateralTooLow(q.collateral, minCollateral);
        // Odd k only: an even split of the seats could never be decided by a majority.
        if (q.replicas == 0 || q.replicas > MAX_REPLICAS || q.replicas % 2 == 0) {
            revert IJobMarketTypes.JobMarketInvalidReplicas(q.replicas);
        }
        checkWindow("claimWindow", q.claimWindow, true);
        checkWindow("executionWindow", q.executionWindow, true);
        // Disputes re-run with commit-reveal, so every job needs a reveal window; only k = 1 has a
        // dispute window.
        checkWindow("revealWindow", q.revealWindow, true);
        checkWindow("disputeWindow", q.disputeWindow, q.replicas == 1);
    }

    function checkParameters(IJobMarketTypes.Parameters memory p) internal pure {
        if (p.protocolFeeBps > MAX_PROTOCOL_FEE_BPS) {
            revert IJobMarketTypes.JobMarketParameterOutOfBounds("protocolFeeBps", p.protocolFeeBps);
        }
        if (p.keeperBountyBps > MAX_KEEPER_BOUNTY_BPS) {
            revert IJobMarketTypes.JobMarketParameterOutOfBounds("keeperBountyBps", p.keeperBountyBps);
        }
        if (p.minCollateralBps > BPS) {
            revert IJobMarketTypes.JobMarketParameterOutOfBounds("minCollateralBps", p.minCollateralBps);
        }
        if (p.disputeReplicas < 3 || p.disputeReplicas > MAX_REPLICAS || p.disputeReplicas % 2 == 0) {
            revert IJobMarketTypes.JobMarketParameterOutOfBounds("disputeReplicas", p.disputeReplicas);
        }
        if (p.minJobFee == 0) revert IJobMarketTypes.JobMarketParameterOutOfBounds("minJobFee", 0);
        if (p.acceptWindow == 0 || p.acceptWindow > MAX_WINDOW) {
            revert IJobMarketTypes.JobMarketParameterOutOfBounds("acceptWindow", p.acceptWindow);
        }
    }

    function checkWindow(bytes32 name, uint256 value, bool required) internal pure {
        if ((required && value == 0) || value > MAX_WINDOW) revert IJobMarketTypes.JobMarketInvalidWindow(name, value);
    }
}
