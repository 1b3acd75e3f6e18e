// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ITESToken} from "../interfaces/ITESToken.sol";

/// @notice Test-only: a contract minter (stands in for the rewards contract).
contract MockTESMinter {
    function mint(ITESToken token, address to, uint256 amount) external {
        token.mint(to, amount);
    }
}
