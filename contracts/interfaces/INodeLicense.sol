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
    /// @notice No tier `tierId` exists (ids are 0-based, below `tierCount()`).
    error NodeLicenseUnknownTier(uint256 tierId);
    /// @notice `buy` at `now_` (block timestamp), outside the tier's sale window [saleStart, saleEnd)
    ///         (saleEnd 0 = never closes).
    error NodeLicenseSaleNotOpen(uint256 tierId, uint256 now_, uint256 saleStart, uint256 saleEnd);
    /// @notice `buy` asked for `requested` licences but the tier has only `remaining` left.
    error NodeLicenseSoldOut(uint256 tierId, uint256 requested, uint256 remaining);
    /// @notice `buyer` already bought `owned` licences in the tier (bought, not held: transfers do not
    ///         reopen it); the requested quantity would pass the tier's per-wallet `cap`.
    error NodeLicenseWalletCapExceeded(uint256 tierId, address buyer, uint256 owned, uint256 cap);
    /// @notice `buy` sent `sent` wei, less than `required` (price * quantity).
    error NodeLicenseInsufficientPayment(uint256 tierId, uint256 sent, uint256 required);
    /// @notice `buy` with a quantity of 0.
    error NodeLicenseZeroQuantity();
    /// @notice `addTier` with a supply of 0, or a sale end that is set but not after the sale start.
    error NodeLicenseInvalidTier();
    /// @notice Refunding the `amount` wei sent above the price to `buyer` failed (it rejects ETH): the whole
    ///         purchase reverts.
    error NodeLicenseRefundFailed(address buyer, uint256 amount);
    /// @notice `withdrawProceeds` with no proceeds to send.
    error NodeLicenseNothingToWithdraw();
    /// @notice Sending `amount` wei of proceeds to `treasury` failed (it rejects ETH).
    error NodeLicenseWithdrawFailed(address treasury, uint256 amount);
    /// @notice `setRegistry` after the registry was wired (to `registry`); it is set once.
    error NodeLicenseRegistryAlreadySet(address registry);
    /// @notice A zero address given as the treasury or the registry.
    error NodeLicenseInvalidAddress();

    // ------------------------------------------------------------------ events
    /// @notice Tier `tierId` was added; the fields are its terms, as in `Tier`.
    event TierAdded(uint256 indexed tierId, uint256 price, uint256 supply, uint256 perWalletCap, uint256 saleStart, uint256 saleEnd);
    /// @notice `buyer` bought `quantity` licences of `tierId`: token ids `firstTokenId` onwards, consecutive.
    ///         `paid`: the wei kept (price * quantity); any excess sent was refunded.
    event LicencesPurchased(address indexed buyer, uint256 indexed tierId, uint256 firstTokenId, uint256 quantity, uint256 paid);
    /// @notice `amount` wei of sale proceeds were sent to `treasury`.
    event ProceedsWithdrawn(address indexed treasury, uint256 amount);
    /// @notice Sale proceeds now go to `treasury` (at deployment and on `setTreasury`).
    event TreasurySet(address indexed treasury);
    /// @notice The node registry was wired; it is told of every licence transfer between holders.
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
