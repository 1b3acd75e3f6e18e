// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {INodeLicense} from "../interfaces/INodeLicense.sol";

/// @notice Test-only: buys node licences from a contract that rejects ETH (a refund or a treasury
///         payout to it fails), or that tries to re-enter `buy` when it is refunded.
contract RevertingLicenceBuyer {
    error RevertingLicenceBuyerRejects();

    INodeLicense public immutable licence;
    bool public reenter;

    constructor(INodeLicense licence_) {
        licence = licence_;
    }

    function setReenter(bool reenter_) external {
        reenter = reenter_;
    }

    function buy(uint256 tierId, uint256 quantity) external payable returns (uint256) {
        return licence.buy{value: msg.value}(tierId, quantity);
    }

    receive() external payable {
        if (reenter) licence.buy{value: msg.value}(0, 1);
        revert RevertingLicenceBuyerRejects();
    }
}
