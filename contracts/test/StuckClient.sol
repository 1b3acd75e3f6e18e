// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IJobMarket, IJobMarketTypes} from "../interfaces/IJobMarket.sol";

/// @notice Test-only: a contract client that opens jobs but has no way to withdraw (or do anything
///         else), so whatever the market credits to it stays there. Shows that one party that never
///         (or can never) collect does not hold up anyone else's settlement or withdrawal.
contract StuckClient {
    IJobMarket public immutable market;
    IERC20 public immutable token;

    constructor(IJobMarket market_, IERC20 token_) {
        market = market_;
        token = token_;
    }

    function open(IJobMarketTypes.JobRequest calldata request) external returns (uint256 jobId) {
        token.approve(address(market), request.payment);
        jobId = market.createJob(request);
    }
}
