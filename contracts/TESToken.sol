// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

import {ITESToken} from "./interfaces/ITESToken.sol";

/// @title TES token
/// @notice ERC-20 with EIP-2612 permit and a hard cap. Genesis goes to the treasury at deployment;
///         afterwards only the minter (the rewards contract, wired once by the deployer) mints.
/// @dev    Invariant (test_total_supply__never_exceeds_cap): totalSupply() <= cap(), enforced by
///         ERC20Capped on every mint, genesis included.
contract TESToken is ERC20Capped, ERC20Permit, ITESToken {
    // ------------------------------------------------------------------ storage
    /// @dev The account that deployed the token; the only one allowed to wire the minter.
    address private immutable _deployer;
    address private _minter;

    // ------------------------------------------------------------------ modifiers
    modifier onlyMinter() {
        _checkMinter();
        _;
    }

    // ------------------------------------------------------------------ constructor
    /// @param treasury receives the genesis allocation
    /// @param cap_ hard cap on total supply, genesis included (ERC20Capped rejects 0)
    /// @param genesisSupply minted to `treasury` now
    constructor(address treasury, uint256 cap_, uint256 genesisSupply)
        ERC20("TES Token", "TES")
        ERC20Capped(cap_)
        ERC20Permit("TES Token")
    {
        if (genesisSupply > cap_) revert TESTokenGenesisExceedsCap(genesisSupply, cap_);
        _deployer = msg.sender;
        _mint(treasury, genesisSupply);
    }

    // ------------------------------------------------------------------ external
    /// @inheritdoc ITESToken
    function setMinter(address minter_) external {
        if (msg.sender != _deployer) revert TESTokenUnauthorizedDeployer(msg.sender);
        if (_minter != address(0)) revert TESTokenMinterAlreadySet(_minter);
        if (minter_.code.length == 0) revert TESTokenInvalidMinter(minter_);
        _minter = minter_;
        emit MinterSet(minter_);
    }

    /// @inheritdoc ITESToken
    function mint(address to, uint256 amount) external onlyMinter {
        _mint(to, amount);
    }

    // ------------------------------------------------------------------ views
    /// @inheritdoc ITESToken
    function minter() external view returns (address) {
        return _minter;
    }

    /// @inheritdoc ITESToken
    function cap() public view override(ERC20Capped, ITESToken) returns (uint256) {
        return super.cap();
    }

    // ------------------------------------------------------------------ internal
    function _checkMinter() internal view {
        // Before wiring `_minter` is zero, which no caller can be.
        if (msg.sender != _minter) revert TESTokenUnauthorizedMinter(msg.sender);
    }

    /// @dev ERC20Capped adds the cap check on mints.
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Capped) {
        super._update(from, to, value);
    }
}
