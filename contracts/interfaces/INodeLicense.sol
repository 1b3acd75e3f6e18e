// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";

/// @title Node licences
/// @notice ERC-721 licences that entitle their owner to run a TES compute node. Sold in tiers for
///         ETH: each tier has a price, a fixed supply, an optional per-wallet cap and an optional
///         sale window. Excess ETH sent with a purchase is refunded in the same transaction.
///         Proceeds are pulled by the treasury.
/// @dev    A licence's node id in the registry is its token id. On every transfer between two
///         holders the licence tells the registry, which unbinds the old owner's operator key.
interface INodeLicense is IERC721 {
    struct Tier {
        uint128 price; // wei per licence
        uint32 supply; // licences this tier can ever sell
        uint32 sold;
        uint32 perWalletCap; // 0 = no cap
        uint40 saleStart; // 0 = open from creation
        uint40 saleEnd; // 0 = never closes
    }

    // ------------------------------------------------------------------ errors
    error NodeLicenseUnknownTier(uint256 tierId);
    error NodeLicenseSaleNotOpen(uint256 tierId, uint256 now_, uint256 saleStart, uint256 saleEnd);
    error NodeLicenseSoldOut(uint256 tierId, uint256 requested, uint256 remaining);
    error NodeLicenseWalletCapExceeded(uint256 tierId, address buyer, uint256 owned, uint256 cap);
    error NodeLicenseInsufficientPayment(uint256 tierId, uint256 sent, uint256 required);
    error NodeLicenseZeroQuantity();
    error NodeLicenseInvalidTier();
    error NodeLicenseRefundFailed(address buyer, uint256 amount);
    error NodeLicenseNothingToWithdraw();
    error NodeLicenseWithdrawFailed(address treasury, uint256 amount);
    error NodeLicenseRegistryAlreadySet(address registry);
    error NodeLicenseInvalidAddress();

    // ------------------------------------------------------------------ events
    event TierAdded(uint256 indexed tierId, uint256 price, uint256 supply, uint256 perWalletCap, uint256 saleStart, uint256 saleEnd);
    event LicencesPurchased(address indexed buyer, uint256 indexed tierId, uint256 firstTokenId, uint256 quantity, uint256 paid);
    event ProceedsWithdrawn(address indexed treasury, uint256 amount);
    event TreasurySet(address indexed treasury);
    event RegistrySet(address indexed registry);

    // ------------------------------------------------------------------ external
    /// @notice Adds a sale tier. Owner only. Returns the new tier id (0-based).
    function addTier(uint128 price, uint32 supply, uint32 perWalletCap, uint40 saleStart, uint40 saleEnd)
        external
        returns (uint256 tierId);

    /// @notice Buys `quantity` licences of `tierId`, paying `price * quantity` wei; any excess is refunded.
    /// @return firstTokenId the first of `quantity` consecutive token ids minted to the caller.
    function buy(uint256 tierId, uint256 quantity) external payable returns (uint256 firstTokenId);

    /// @notice Sends all sale proceeds to the treasury. Anyone may call; only the treasury receives.
    function withdrawProceeds() external;

    /// @notice Owner only: where proceeds go.
    function setTreasury(address treasury) external;

    /// @notice Wires the node registry (notified on transfers). Owner only, once.
    function setRegistry(address registry) external;

    // ------------------------------------------------------------------ views
    function tier(uint256 tierId) external view returns (Tier memory);
    function tierCount() external view returns (uint256);
    function tierOf(uint256 tokenId) external view returns (uint256);
    function purchasedInTier(uint256 tierId, address wallet) external view returns (uint256);
    function treasury() external view returns (address);
    function registry() external view returns (address);
    function proceeds() external view returns (uint256);
    function totalMinted() external view returns (uint256);
}
