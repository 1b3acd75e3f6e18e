// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {INodeLicense} from "./interfaces/INodeLicense.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";

/// @title Node licences
/// @notice ERC-721 licences sold in tiers for ETH. Token ids start at 1 and are consecutive across
///         tiers. Proceeds accumulate here and are pulled to the treasury.
/// @dev    Invariant (test_balance__equals_proceeds): address(this).balance == proceeds() — every
///         purchase keeps exactly price * quantity and refunds the rest in the same transaction.
/// @dev    Invariant (test_tier__sold_never_exceeds_supply): tier.sold <= tier.supply.
contract NodeLicense is ERC721, Ownable2Step, ReentrancyGuardTransient, INodeLicense {
    // ------------------------------------------------------------------ storage
    Tier[] private _tiers;
    mapping(uint256 tokenId => uint256 tierId) private _tierOf;
    mapping(uint256 tierId => mapping(address wallet => uint256 count)) private _purchased;
    address private _treasury;
    address private _registry;
    uint256 private _proceeds;
    uint256 private _totalMinted;

    // ------------------------------------------------------------------ constructor
    /// @param owner_ governance (Ownable2Step); adds tiers, sets the treasury and the registry
    /// @param treasury_ receives sale proceeds
    constructor(address owner_, address treasury_) ERC721("TES Node Licence", "TESNODE") Ownable(owner_) {
        _setTreasury(treasury_);
    }

    // ------------------------------------------------------------------ external
    /// @inheritdoc INodeLicense
    /// @dev A sale window is [saleStart, saleEnd): it opens at saleStart and is closed from saleEnd on.
    function addTier(uint128 price, uint32 supply, uint32 perWalletCap, uint40 saleStart, uint40 saleEnd)
        external
        onlyOwner
        returns (uint256 tierId)
    {
        if (supply == 0 || (saleEnd != 0 && saleEnd <= saleStart)) revert NodeLicenseInvalidTier();
        tierId = _tiers.length;
        _tiers.push(
            Tier({
                price: price,
                supply: supply,
                sold: 0,
                perWalletCap: perWalletCap,
                saleStart: saleStart,
                saleEnd: saleEnd
            })
        );
        emit TierAdded(tierId, price, supply, perWalletCap, saleStart, saleEnd);
    }

    /// @inheritdoc INodeLicense
    /// @dev Mints with `_mint`, not `_safeMint`: the buyer is the caller, so there is no
    ///      `onERC721Received` callback to re-enter through. The wallet cap counts licences bought
    ///      in the tier, not licences held, so transferring them away does not reopen it.
    function buy(uint256 tierId, uint256 quantity) external payable nonReentrant returns (uint256 firstTokenId) {
        // ---- checks
        if (tierId >= _tiers.length) revert NodeLicenseUnknownTier(tierId);
        if (quantity == 0) revert NodeLicenseZeroQuantity();
        Tier storage t = _tiers[tierId];
        if (block.timestamp < t.saleStart || (t.saleEnd != 0 && block.timestamp >= t.saleEnd)) {
            revert NodeLicenseSaleNotOpen(tierId, block.timestamp, t.saleStart, t.saleEnd);
        }
        uint256 remaining = t.supply - t.sold;
        if (quantity > remaining) revert NodeLicenseSoldOut(tierId, quantity, remaining);
        uint256 owned = _purchased[tierId][msg.sender];
        if (t.perWalletCap != 0 && owned + quantity > t.perWalletCap) {
            revert NodeLicenseWalletCapExceeded(tierId, msg.sender, owned, t.perWalletCap);
        }
        // Cannot overflow: price < 2**128 and quantity <= remaining < 2**32.
        uint256 required = uint256(t.price) * quantity;
        if (msg.value < required) revert NodeLicenseInsufficientPayment(tierId, msg.value, required);

        // ---- effects
        // Fits in uint32: quantity <= remaining = supply - sold.
        t.sold += uint32(quantity);
        _purchased[tierId][msg.sender] = owned + quantity;
        _proceeds += required;
        firstTokenId = _totalMinted + 1;
        _totalMinted += quantity;
        for (uint256 i; i < quantity; ++i) {
            uint256 tokenId = firstTokenId + i;
            _tierOf[tokenId] = tierId;
            _mint(msg.sender, tokenId);
        }
        emit LicencesPurchased(msg.sender, tierId, firstTokenId, quantity, required);

        // ---- interactions
        uint256 excess = msg.value - required;
        if (excess != 0) {
            (bool ok,) = msg.sender.call{value: excess}("");
            if (!ok) revert NodeLicenseRefundFailed(msg.sender, excess);
        }
    }

    /// @inheritdoc INodeLicense
    /// @dev Pull: a treasury that rejects ETH only makes this call revert; purchases never send to it.
    function withdrawProceeds() external nonReentrant {
        uint256 amount = _proceeds;
        if (amount == 0) revert NodeLicenseNothingToWithdraw();
        _proceeds = 0;
        address to = _treasury;
        emit ProceedsWithdrawn(to, amount);
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert NodeLicenseWithdrawFailed(to, amount);
    }

    /// @inheritdoc INodeLicense
    function setTreasury(address treasury_) external onlyOwner {
        _setTreasury(treasury_);
    }

    /// @inheritdoc INodeLicense
    function setRegistry(address registry_) external onlyOwner {
        if (_registry != address(0)) revert NodeLicenseRegistryAlreadySet(_registry);
        if (registry_ == address(0)) revert NodeLicenseInvalidAddress();
        _registry = registry_;
        emit RegistrySet(registry_);
    }

    // ------------------------------------------------------------------ views
    /// @inheritdoc INodeLicense
    function tier(uint256 tierId) external view returns (Tier memory) {
        if (tierId >= _tiers.length) revert NodeLicenseUnknownTier(tierId);
        return _tiers[tierId];
    }

    /// @inheritdoc INodeLicense
    function tierCount() external view returns (uint256) {
        return _tiers.length;
    }

    /// @inheritdoc INodeLicense
    /// @dev Reverts with ERC721NonexistentToken for a token that was never minted.
    function tierOf(uint256 tokenId) external view returns (uint256) {
        _requireOwned(tokenId);
        return _tierOf[tokenId];
    }

    /// @inheritdoc INodeLicense
    function purchasedInTier(uint256 tierId, address wallet) external view returns (uint256) {
        return _purchased[tierId][wallet];
    }

    /// @inheritdoc INodeLicense
    function treasury() external view returns (address) {
        return _treasury;
    }

    /// @inheritdoc INodeLicense
    function registry() external view returns (address) {
        return _registry;
    }

    /// @inheritdoc INodeLicense
    function proceeds() external view returns (uint256) {
        return _proceeds;
    }

    /// @inheritdoc INodeLicense
    function totalMinted() external view returns (uint256) {
        return _totalMinted;
    }

    // ------------------------------------------------------------------ internal
    function _setTreasury(address treasury_) internal {
        if (treasury_ == address(0)) revert NodeLicenseInvalidAddress();
        _treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    /// @dev After the ownership change, tells the registry when a licence moves between two
    ///      different holders (not on mint, and not on a transfer to oneself), so it unbinds the
    ///      old owner's operator. The registry is trusted and wired once by the owner.
    function _update(address to, uint256 tokenId, address auth) internal override returns (address from) {
        from = super._update(to, tokenId, auth);
        address registry_ = _registry;
        if (registry_ != address(0) && from != address(0) && to != address(0) && from != to) {
            INodeRegistry(registry_).onLicenceTransfer(tokenId, from, to);
        }
    }
}
