// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title TES token
/// @notice ERC-20 with EIP-2612 permit and a hard supply cap. A genesis allocation is minted once to
///         the treasury at deployment; afterwards only the rewards contract can mint, along its
///         emission schedule.
interface ITESToken is IERC20 {
    // ------------------------------------------------------------------ errors
    /// @notice `caller` tried to mint but is not the minter.
    error TESTokenUnauthorizedMinter(address caller);
    /// @notice The minter is set once, by the deployer; a second attempt reverts.
    error TESTokenMinterAlreadySet(address minter);
    /// @notice Only the deployer wires the minter.
    error TESTokenUnauthorizedDeployer(address caller);
    /// @notice The minter must be a contract (the rewards contract), not the zero address.
    error TESTokenInvalidMinter(address minter);
    /// @notice The genesis allocation cannot exceed the cap.
    error TESTokenGenesisExceedsCap(uint256 genesis, uint256 cap);

    // ------------------------------------------------------------------ events
    /// @notice The rewards contract became the only minter.
    event MinterSet(address indexed minter);

    // ------------------------------------------------------------------ external
    /// @notice Wires the rewards contract as the only minter. Callable once, by the deployer.
    function setMinter(address minter) external;

    /// @notice Mints `amount` to `to`. Only the minter; never past the cap.
    function mint(address to, uint256 amount) external;

    /// @notice The only account allowed to mint (the rewards contract), or zero before wiring.
    function minter() external view returns (address);

    /// @notice Hard supply cap, genesis allocation included.
    function cap() external view returns (uint256);
}
