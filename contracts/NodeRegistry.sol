// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {INodeLicense} from "./interfaces/INodeLicense.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {NodeRecords} from "./libraries/NodeRecords.sol";
import {OperatorBinding} from "./libraries/OperatorBinding.sol";
import {SortitionTree} from "./libraries/SortitionTree.sol";

/// @title Node registry
/// @dev   Storage is packed so that the per-job paths stay cheap: `lockForClaim` reads two slots
///        (operator + capabilities, stake + lock + status) and writes one; `release` reads and
///        writes one.
///        Invariant (stake): locked <= stake for every node.
///        Invariant (solvency): the registry's TES balance >= sum over nodes of stake + unbonding.
///        Invariant (sortition): a node's tree weight = its stake if Active with an operator, else 0
///        (`_syncWeight` runs after every change of stake, status or operator). A lock is a lien,
///        not a change of stake: claims and releases leave the tree alone.
///        Invariant (service): an Active node has an operator and at least `minStake` bonded.
contract NodeRegistry is INodeRegistry, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using NodeRecords for NodeRecords.NodeRecord;
    using SortitionTree for SortitionTree.Tree;

    // ------------------------------------------------------------------ constants
    /// @notice Upper bound for `unbondingDelay`.
    uint256 public constant MAX_UNBONDING_DELAY = 90 days;
    /// @notice Upper bound for `jailPeriod`.
    uint256 public constant MAX_JAIL_PERIOD = 30 days;

    // ------------------------------------------------------------------ storage
    IERC20 private immutable _token;
    INodeLicense private immutable _licence;

    address private _jobMarket;
    uint32 private _unbondingDelay;
    uint32 private _jailPeriod;
    uint96 private _minStake;
    /// @dev Block of the last change of any draw weight: a draw seeded by an older block's hash is
    ///      only fair if no weight moved after that hash became known (see INodeRegistry).
    uint40 private _lastWeightChange;

    /// @dev Node records (layout and slot use in libraries/NodeRecords.sol).
    mapping(uint256 nodeId => NodeRecords.NodeRecord) private _nodes;
    /// @dev Keys proposed by the licence owner that have not accepted yet.
    mapping(uint256 nodeId => address) private _pendingOperators;
    /// @dev Stake-weighted sortition over the active nodes.
    SortitionTree.Tree private _tree;

    // ------------------------------------------------------------------ modifiers
    modifier onlyJobMarket() {
        _checkJobMarket();
        _;
    }

    modifier onlyLicenceOwner(uint256 nodeId) {
        _checkLicenceOwner(nodeId);
        _;
    }

    // ------------------------------------------------------------------ constructor
    constructor(
        address owner_,
        IERC20 token_,
        INodeLicense licence_,
        uint96 minStake_,
        uint32 unbondingDelay_,
        uint32 jailPeriod_
    ) Ownable(owner_) {
        if (address(token_) == address(0) || address(licence_) == address(0)) {
            revert NodeRegistryInvalidAddress();
        }
        _token = token_;
        _licence = licence_;
        _setParameters(minStake_, unbondingDelay_, jailPeriod_);
    }

    // ------------------------------------------------------------------ licence owner
    /// @inheritdoc INodeRegistry
    function bindOperator(uint256 nodeId, address operator) external onlyLicenceOwner(nodeId) {
        OperatorBinding.propose(_pendingOperators, nodeId, operator);
    }

    /// @inheritdoc INodeRegistry
    /// @dev A pending proposal cannot outlive the owner who made it: `onLicenceTransfer` clears it.
    function acceptOperator(uint256 nodeId) external {
        NodeRecords.NodeRecord storage n = _nodes[nodeId];
        OperatorBinding.accept(_pendingOperators, n, nodeId);
        _syncWeight(nodeId, n);
    }

    /// @inheritdoc INodeRegistry
    function announceEndpoint(uint256 nodeId, string calldata url) external {
        address operator = _nodes[nodeId].operator;
        if (operator == address(0) || operator != msg.sender) revert NodeRegistryNotOperator(nodeId, msg.sender);
        emit EndpointAnnounced(nodeId, url);
    }

    /// @inheritdoc INodeRegistry
    function declareCapabilities(uint256 nodeId, Capabilities calldata capabilities)
        external
        onlyLicenceOwner(nodeId)
    {
        _nodes[nodeId].declare(nodeId, capabilities);
    }

    /// @inheritdoc INodeRegistry
    /// @dev The licence must exist (`ownerOf` reverts otherwise), so stake can never wait on an id
    ///      that someone else mints later. A retired node takes no new stake, nor does an id past
    ///      the sortition tree's range.
    function stake(uint256 nodeId, uint256 amount) external nonReentrant {
        if (amount == 0) revert NodeRegistryZeroAmount();
        if (nodeId > SortitionTree.MAX_INDEX) revert NodeRegistryNodeIdTooLarge(nodeId);
        // slither-disable-next-line unused-return (called for its revert on an unknown licence)
        _licence.ownerOf(nodeId);
        NodeRecords.NodeRecord storage n = _nodes[nodeId];
        NodeStatus status = n.status;
        if (status == NodeStatus.Retired) revert NodeRegistryWrongStatus(nodeId, status);
        uint96 newStake = SafeCast.toUint96(uint256(n.stake) + amount);
        n.stake = newStake;
        emit Staked(nodeId, msg.sender, amount, newStake);
        _syncWeight(nodeId, n);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc INodeRegistry
    /// @dev An active node whose remaining stake falls below `minStake` goes out of service.
    function requestUnbond(uint256 nodeId, uint256 amount) external onlyLicenceOwner(nodeId) {
        if (amount == 0) revert NodeRegistryZeroAmount();
        NodeRecords.NodeRecord storage n = _nodes[nodeId];
        uint96 bonded = n.stake;
        uint256 free = bonded - n.locked;
        if (amount > free) revert NodeRegistryInsufficientFreeStake(nodeId, free, amount);
        uint96 remaining;
        unchecked {
            // amount <= free <= bonded
            remaining = bonded - uint96(amount);
        }
        n.stake = remaining;
        uint256 releaseAt = block.timestamp + _unbondingDelay;
        n.unbonding += uint96(amount);
        n.unbondingReleaseAt = uint40(releaseAt);
        emit UnbondRequested(nodeId, amount, releaseAt);
        _deactivateIfBelowMinStake(nodeId, n);
        _syncWeight(nodeId, n);
    }

    /// @inheritdoc INodeRegistry
    function withdrawUnbonded(uint256 nodeId) external nonReentrant onlyLicenceOwner(nodeId) {
        NodeRecords.NodeRecord storage n = _nodes[nodeId];
        uint256 amount = n.unbonding;
        if (amount == 0) revert NodeRegistryNothingUnbonding(nodeId);
        uint256 releaseAt = n.unbondingReleaseAt;
        if (block.timestamp < releaseAt) revert NodeRegistryUnbondingNotReady(nodeId, releaseAt);
        n.unbonding = 0;
        n.unbondingReleaseAt = 0;
        emit Unbonded(nodeId, msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc INodeRegistry
    function activate(uint256 nodeId) external onlyLicenceOwner(nodeId) {
        NodeRecords.NodeRecord storage n = _nodes[nodeId];
        NodeStatus status = n.status;
        if (status == NodeStatus.Jailed) {
            uint256 jailedUntil = n.jailedUntil;
            if (block.timestamp < jailedUntil) revert NodeRegistryStillJailed(nodeId, jailedUntil);
        } else if (status != NodeStatus.Inactive) {
            revert NodeRegistryWrongStatus(nodeId, status);
        }
        if (n.operator == address(0)) revert NodeRegistryNoOperator(nodeId);
        uint256 bonded = n.stake;
        if (bonded < _minStake) revert NodeRegistryInsufficientStake(nodeId, bonded, _minStake);
        _setStatus(nodeId, n, NodeStatus.Active);
    }

    /// @inheritdoc INodeRegistry
    function deactivate(uint256 nodeId) external onlyLicenceOwner(nodeId) {
        NodeRecords.NodeRecord storage n = _nodes[nodeId];
        NodeStatus status = n.status;
        if (status != NodeStatus.Active) revert NodeRegistryWrongStatus(nodeId, status);
        _setStatus(nodeId, n, NodeStatus.Inactive);
    }

    /// @inheritdoc INodeRegistry
    /// @dev Collateral locked for running jobs stays locked until the market releases or seizes it.
    function retire(uint256 nodeId) external onlyLicenceOwner(nodeId) {
        NodeRecords.NodeRecord storage n = _nodes[nodeId];
        NodeStatus status = n.status;
        if (status == NodeStatus.Retired) revert NodeRegistryWrongStatus(nodeId, status);
        _setStatus(nodeId, n, NodeStatus.Retired);
    }

    // ------------------------------------------------------------------ job market
    /// @inheritdoc INodeRegistry
    function lockForClaim(uint256 nodeId, address operator, Capabilities calldata need, uint256 collateral)
        external
        onlyJobMarket
    {
        NodeRecords.NodeRecord storage n = _nodes[nodeId];
        uint96 bonded = n.stake;
        uint96 locked = n.locked;
        NodeStatus status = n.status;
        if (status != NodeStatus.Active) revert NodeRegistryNotActive(nodeId, status);
        if (n.operator != operator) revert NodeRegistryNotOperator(nodeId, operator);
        if (!n.meets(need)) revert NodeRegistryCapabilitiesNotMet(nodeId);
        uint256 free;
        unchecked {
            // invariant: locked <= stake
            free = bonded - locked;
        }
        if (collateral > free) revert NodeRegistryInsufficientFreeStake(nodeId, free, collateral);
        unchecked {
            // collateral <= stake - locked, so the sum stays <= stake
            n.locked = locked + uint96(collateral);
        }
        emit CollateralLocked(nodeId, collateral);
    }

    /// @inheritdoc INodeRegistry
    /// @dev Reverts (arithmetic underflow) if `amount` exceeds the locked collateral.
    function release(uint256 nodeId, uint256 amount, Outcome outcome, uint256 replicas) external onlyJobMarket {
        NodeRecords.NodeRecord storage n = _nodes[nodeId];
        // checked: reverts if the market releases more than it locked
        n.locked = uint96(n.locked - amount);
        n.countOutcome(outcome, replicas);
        emit CollateralReleased(nodeId, amount, outcome, replicas);
    }

    /// @inheritdoc INodeRegistry
    /// @dev Only locked collateral can be seized; unbonding stake is out of reach. A retired node
    ///      stays retired (it cannot be reactivated), an already jailed one has its term restarted.
    function seize(uint256 nodeId, uint256 amount)
        external
        nonReentrant
        onlyJobMarket
        returns (uint256 seized)
    {
        NodeRecords.NodeRecord storage n = _nodes[nodeId];
        uint96 locked = n.locked;
        uint96 taken = amount < locked ? uint96(amount) : locked;
        unchecked {
            // taken <= locked <= stake
            n.locked = locked - taken;
            n.stake -= taken;
        }
        n.countSlash();
        uint256 jailedUntil = block.timestamp + _jailPeriod;
        n.jailedUntil = uint40(jailedUntil);
        emit NodeSlashed(nodeId, taken, jailedUntil);
        NodeStatus status = n.status;
        // (Jailed or Retired: not Active, so the weight is 0 whatever the stake)
        // slither-disable-next-line incorrect-equality (an enum, not a balance or a timestamp)
        if (status == NodeStatus.Active || status == NodeStatus.Inactive) _setStatus(nodeId, n, NodeStatus.Jailed);
        seized = taken;
        if (seized != 0) _token.safeTransfer(msg.sender, seized);
    }

    /// @inheritdoc INodeRegistry
    /// @dev Locked collateral is out of reach (it answers for claimed jobs), as is unbonding stake.
    ///      Like an unbond, a penalty that leaves an active node below `minStake` takes it out of
    ///      service (it may be activated again once topped up).
    function penalize(uint256 nodeId, uint256 amount)
        external
        nonReentrant
        onlyJobMarket
        returns (uint256 taken)
    {
        NodeRecords.NodeRecord storage n = _nodes[nodeId];
        uint96 bonded = n.stake;
        uint256 free = bonded - n.locked;
        taken = amount < free ? amount : free;
        unchecked {
            // taken <= free <= bonded
            n.stake = bonded - uint96(taken);
        }
        emit NodePenalized(nodeId, taken);
        _deactivateIfBelowMinStake(nodeId, n);
        _syncWeight(nodeId, n);
        if (taken != 0) _token.safeTransfer(msg.sender, taken);
    }

    /// @inheritdoc INodeRegistry
    /// @dev Stake, unbonding and reputation stay with the licence; a jailed or retired node keeps
    ///      its status.
    function onLicenceTransfer(uint256 nodeId, address, address) external {
        if (msg.sender != address(_licence)) revert NodeRegistryNotLicence(msg.sender);
        NodeRecords.NodeRecord storage n = _nodes[nodeId];
        OperatorBinding.clear(_pendingOperators, n, nodeId);
        // not Active: the weight is already 0
        if (n.status == NodeStatus.Active) _setStatus(nodeId, n, NodeStatus.Inactive);
    }

    // ------------------------------------------------------------------ governance
    /// @inheritdoc INodeRegistry
    function setJobMarket(address market) external onlyOwner {
        if (market == address(0)) revert NodeRegistryInvalidAddress();
        address current = _jobMarket;
        if (current != address(0)) revert NodeRegistryJobMarketAlreadySet(current);
        _jobMarket = market;
        emit JobMarketSet(market);
    }

    /// @inheritdoc INodeRegistry
    function setParameters(uint96 minStake_, uint32 unbondingDelay_, uint32 jailPeriod_) external onlyOwner {
        _setParameters(minStake_, unbondingDelay_, jailPeriod_);
    }

    // ------------------------------------------------------------------ views
    /// @inheritdoc INodeRegistry
    function node(uint256 nodeId) external view returns (Node memory) {
        return _nodes[nodeId].toView();
    }

    /// @inheritdoc INodeRegistry
    function operatorOf(uint256 nodeId) external view returns (address) {
        return _nodes[nodeId].operator;
    }

    /// @inheritdoc INodeRegistry
    function pendingOperatorOf(uint256 nodeId) external view returns (address) {
        return _pendingOperators[nodeId];
    }

    /// @inheritdoc INodeRegistry
    /// @dev `seed` must be unpredictable to whoever benefits from the draw; the registry only maps
    ///      it onto the stake distribution (uniform seeds give stake-proportional draws).
    function drawNode(bytes32 seed) external view returns (uint256 nodeId) {
        return _tree.draw(uint256(seed));
    }

    /// @inheritdoc INodeRegistry
    function canServe(uint256 nodeId, Capabilities calldata need, uint256 collateral)
        external
        view
        returns (bool ok, address operator)
    {
        NodeRecords.NodeRecord storage n = _nodes[nodeId];
        operator = n.operator;
        // slither-disable-next-line incorrect-equality (an enum, not a balance or a timestamp)
        ok = n.status == NodeStatus.Active && operator != address(0) && n.meets(need)
            && n.stake - n.locked >= collateral;
    }

    /// @inheritdoc INodeRegistry
    function drawWeight(uint256 nodeId) external view returns (uint256) {
        return _tree.weightOf(nodeId);
    }

    /// @inheritdoc INodeRegistry
    function totalDrawWeight() external view returns (uint256) {
        return _tree.total();
    }

    /// @inheritdoc INodeRegistry
    function lastWeightChangeBlock() external view returns (uint256) {
        return _lastWeightChange;
    }

    /// @inheritdoc INodeRegistry
    function ownerOfNode(uint256 nodeId) external view returns (address) {
        return _licence.ownerOf(nodeId);
    }

    /// @inheritdoc INodeRegistry
    function isActive(uint256 nodeId) external view returns (bool) {
        // slither-disable-next-line incorrect-equality (an enum, not a balance or a timestamp)
        return _nodes[nodeId].status == NodeStatus.Active;
    }

    /// @inheritdoc INodeRegistry
    function meets(Capabilities calldata have, Capabilities calldata need) external pure returns (bool) {
        return have.cpuCores >= need.cpuCores && have.memoryMb >= need.memoryMb && have.gpuCount >= need.gpuCount
            && have.gpuMemoryMb >= need.gpuMemoryMb && have.gpuClass >= need.gpuClass;
    }

    /// @inheritdoc INodeRegistry
    function freeStake(uint256 nodeId) external view returns (uint256) {
        NodeRecords.NodeRecord storage n = _nodes[nodeId];
        return n.stake - n.locked;
    }

    /// @inheritdoc INodeRegistry
    function minStake() external view returns (uint256) {
        return _minStake;
    }

    /// @inheritdoc INodeRegistry
    function unbondingDelay() external view returns (uint256) {
        return _unbondingDelay;
    }

    /// @inheritdoc INodeRegistry
    function jailPeriod() external view returns (uint256) {
        return _jailPeriod;
    }

    /// @inheritdoc INodeRegistry
    function jobMarket() external view returns (address) {
        return _jobMarket;
    }

    /// @inheritdoc INodeRegistry
    function licence() external view returns (address) {
        return address(_licence);
    }

    /// @inheritdoc INodeRegistry
    function token() external view returns (address) {
        return address(_token);
    }

    // ------------------------------------------------------------------ internal
    function _checkJobMarket() internal view {
        if (msg.sender != _jobMarket) revert NodeRegistryNotJobMarket(msg.sender);
    }

    function _checkLicenceOwner(uint256 nodeId) internal view {
        if (_licence.ownerOf(nodeId) != msg.sender) revert NodeRegistryNotLicenceOwner(nodeId, msg.sender);
    }

    /// @dev Sets the status, emits, and updates the draw weight.
    function _setStatus(uint256 nodeId, NodeRecords.NodeRecord storage n, NodeStatus status) internal {
        n.status = status;
        emit NodeStatusChanged(nodeId, status);
        _syncWeight(nodeId, n);
    }

    /// @dev Takes an active node whose stake fell below `minStake` out of service (no weight sync:
    ///      callers sync once after the stake change).
    function _deactivateIfBelowMinStake(uint256 nodeId, NodeRecords.NodeRecord storage n) internal {
        // slither-disable-next-line incorrect-equality (an enum, not a balance or a timestamp)
        if (n.stake < _minStake && n.status == NodeStatus.Active) {
            n.status = NodeStatus.Inactive;
            emit NodeStatusChanged(nodeId, NodeStatus.Inactive);
        }
    }

    /// @dev The one place the sortition tree is written: weight = stake if Active with an operator,
    ///      else 0. Emits `DrawWeightChanged` only when the weight moves.
    function _syncWeight(uint256 nodeId, NodeRecords.NodeRecord storage n) internal {
        // slither-disable-next-line incorrect-equality (an enum, not a balance or a timestamp)
        uint256 weight = n.status == NodeStatus.Active && n.operator != address(0) ? n.stake : 0;
        if (_tree.set(nodeId, weight)) {
            _lastWeightChange = uint40(block.number);
            emit DrawWeightChanged(nodeId, weight);
        }
    }

    function _setParameters(uint96 minStake_, uint32 unbondingDelay_, uint32 jailPeriod_) internal {
        if (minStake_ == 0) revert NodeRegistryParameterOutOfBounds("minStake", minStake_);
        if (unbondingDelay_ > MAX_UNBONDING_DELAY) {
            revert NodeRegistryParameterOutOfBounds("unbondingDelay", unbondingDelay_);
        }
        if (jailPeriod_ > MAX_JAIL_PERIOD) revert NodeRegistryParameterOutOfBounds("jailPeriod", jailPeriod_);
        _minStake = minStake_;
        _unbondingDelay = unbondingDelay_;
        _jailPeriod = jailPeriod_;
        emit ParametersSet(minStake_, unbondingDelay_, jailPeriod_);
    }
}
