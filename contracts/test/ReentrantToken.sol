// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test-only: a malicious ERC-20 that calls back into a target (the job market) from the
///         middle of a transfer, after balances moved, as a token with transfer hooks would.
///         `arm` sets the call; it fires once, on the next transfer. Unless `bubble` is set, the
///         callback's outcome is recorded (and emitted) and the transfer goes on; with `bubble`
///         a failed callback's revert data aborts the transfer.
contract ReentrantToken is ERC20 {
    event ReentryAttempted(address indexed target, bool success, bytes returnData);

    address public target;
    bytes public callData;
    bool public bubble;
    bool public armed;

    constructor() ERC20("Reentrant Token", "RENT") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(address target_, bytes calldata callData_, bool bubble_) external {
        target = target_;
        callData = callData_;
        bubble = bubble_;
        armed = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (!armed || from == address(0)) return;
        armed = false;
        (bool success, bytes memory returnData) = target.call(callData);
        emit ReentryAttempted(target, success, returnData);
        if (!success && bubble) {
            assembly ("memory-safe") {
                revert(add(returnData, 0x20), mload(returnData))
            }
        }
    }
}
