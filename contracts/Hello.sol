// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title Throwaway toolchain check
/// @notice ERC20 plus a transient-storage reentrancy guard (Cancun TSTORE/TLOAD).
contract Hello is ERC20, ReentrancyGuardTransient {
    uint256 public counter;

    constructor() ERC20("Hello", "HEL") {
        _mint(msg.sender, 1000 ether);
    }

    /// @dev Guarded by TSTORE/TLOAD.
    function bump() external nonReentrant returns (uint256) {
        counter += 1;
        return counter;
    }
}
