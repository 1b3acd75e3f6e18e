// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IRewards} from "./interfaces/IRewards.sol";
import {ITESToken} from "./interfaces/ITESToken.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";

/// @title Rewards
/// @notice Epoch accounting of emissions and protocol fees, paid to node licence owners by pull.
///         Emission never pays for work: a node that sends jobs to itself only gets back the fee
///         it paid, so wash volume cannot farm emission, while emission still rewards honest
///         capacity (being live and taking the seats one is drawn for).
/// @dev    Epochs close lazily and strictly in order: every entry point first closes all finished
///         epochs (minting their emission in one `mint`), and `checkpoint(maxEpochs)` lets a keeper
///         catch up in chunks. Closing an idle epoch costs ~8,300 gas (cold reads and an event;
///         1,000 idle epochs measured at 8.3M gas), so after a long idle period the first caller
///         pays for the backlog: a keeper should `checkpoint` before that nears the block limit.
///         Invariants (each tested by `test_<name>` in tests/unit/rewards/test_invariants.py):
///         @dev rewards_claimed_never_exceed_funded: totalClaimed <= totalFunded.
///         @dev rewards_balance_equals_funded_minus_claimed: token.balanceOf(this) ==
///              totalFunded - totalClaimed (>= if someone transfers TES in without `recordWork` or
///              `notifyFees`; such a gift is never paid out).
///         @dev rewards_minted_within_schedule: totalMinted == sum of emissionForEpoch(e) over the
///              closed epochs e, so <= the schedule, which the constructor proves fits the cap.
///         Rounding: every share is rounded down and the dust of a closing pot carries to the next
///         epoch, except work dust below 1 wei per worker, which stays in the contract unpaid (none
///         while work is the fee itself: the work rate is then exactly 1).
contract Rewards is IRewards, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for ITESToken;

    /// @dev A node's O(1) reward state. Two slots.
    struct NodeState {
        uint32 liveEpochPlusOne; // pending (unsettled) live epoch + 1; 0 = none
        uint32 workEpoch; // epoch in which `work` was done
        uint128 work; // unsettled work (fees) done in `workEpoch`
        uint32 missedEpochPlusOne; // latest epoch + 1 in which the node missed a drawn seat; 0 = none
        uint128 accrued; // settled, unclaimed TES
    }

    /// @dev Everything a closing epoch decides, computed by `_outcome` (shared by close and views).
    struct Outcome {
        uint256 emission;
        uint256 fees;
        uint256 income;
        uint256 availabilityPot;
        uint256 workPot;
        uint256 availabilityPerNode;
        uint256 workRate;
        uint256 carryOut;
    }

    // ------------------------------------------------------------------ constants
    uint256 public constant WORK_RATE_SCALE = 1e18;
    uint256 public constant MIN_EPOCH_LENGTH = 1 minutes;
    uint256 public constant MAX_EPOCH_LENGTH = 365 days;

    // ------------------------------------------------------------------ storage
    ITESToken private immutable _token;
    INodeRegistry private immutable _registry;
    uint256 private immutable _epochLength;
    uint256 private immutable _genesisTime;
    uint256 private immutable _initialEmission;
    uint256 private immutable _halvingEpochs;

    address private _jobMarket;
    uint256 private _nextEpochToClose;
    uint256 private _carry;
    uint256 private _totalMinted;
    uint256 private _totalFunded;
    uint256 private _totalClaimed;
    /// @dev `closed` is never written: it is derived from `_nextEpochToClose` in `epoch()`.
    mapping(uint256 epochId => Epoch) private _epochs;
    mapping(uint256 nodeId => NodeState) private _nodes;

    // ------------------------------------------------------------------ modifiers
    modifier onlyJobMarket() {
        _checkJobMarket();
        _;
    }

    // ------------------------------------------------------------------ constructor
    /// @param owner_ governance (Ownable2Step)
    /// @param token_ TES; this contract must become its minter before the first epoch closes
    /// @param registry_ node registry (operators, licence owners, status)
    /// @param epochLength_ seconds per epoch, in [MIN_EPOCH_LENGTH, MAX_EPOCH_LENGTH]
    /// @param genesisTime_ start of epoch 0 (times before it count as epoch 0)
    /// @param initialEmission_ TES minted for each epoch of the first halving period
    /// @param halvingEpochs_ epochs between halvings (> 0)
    constructor(
        address owner_,
        ITESToken token_,
        INodeRegistry registry_,
        uint32 epochLength_,
        uint40 genesisTime_,
        uint256 initialEmission_,
        uint32 halvingEpochs_
    ) Ownable(owner_) {
        if (address(token_) == address(0) || address(registry_) == address(0)) revert RewardsInvalidAddress();
        if (epochLength_ < MIN_EPOCH_LENGTH || epochLength_ > MAX_EPOCH_LENGTH) {
            revert RewardsParameterOutOfBounds("epochLength", epochLength_);
        }
        uint256 supply = token_.totalSupply();
        uint256 cap = token_.cap();
        // sum_e (E >> (e / H)) <= H * E * (1 + 1/2 + 1/4 + ...) < 2 * E * H, so this proves that
        // minting the whole schedule can never pass the cap. Bounding E by 2^128 first keeps the
        // product (< 2^161) from overflowing.
        if (
            halvingEpochs_ == 0 || initialEmission_ > type(uint128).max || supply > cap
                || 2 * initialEmission_ * halvingEpochs_ > cap - supply
        ) revert RewardsInvalidSchedule(supply, initialEmission_, halvingEpochs_, cap);

        _token = token_;
        _registry = registry_;
        _epochLength = epochLength_;
        _genesisTime = genesisTime_;
        _initialEmission = initialEmission_;
        _halvingEpochs = halvingEpochs_;
    }

    // ------------------------------------------------------------------ external
    /// @inheritdoc IRewards
    /// @dev One operator's batch covers many nodes, so one node that cannot count (deactivated or
    ///      jailed since the operator's last read, rebound to another key, out for a missed seat)
    ///      is skipped rather than failing the others. A node already live this epoch is skipped
    ///      silently, so a repeat is harmless. Entering a new live epoch settles the node's previous
    ///      one (finished, hence closed).
    function heartbeat(uint256[] calldata nodeIds) external nonReentrant {
        (uint256 current, uint256 minted) = _closeFinished(type(uint256).max);
        uint32 livePlusOne = SafeCast.toUint32(current + 1);
        for (uint256 i; i < nodeIds.length; ++i) {
            uint256 nodeId = nodeIds[i];
            NodeState storage n = _nodes[nodeId];
            (bool skip, HeartbeatSkip reason) = _skipReason(nodeId, n, livePlusOne);
            if (skip) {
                emit HeartbeatSkipped(nodeId, current, reason);
                continue;
            }
            if (n.liveEpochPlusOne >= livePlusOne) continue; // already live this epoch
            _settleLive(n, current);
            n.liveEpochPlusOne = livePlusOne;
            ++_epochs[current].liveNodes;
            emit LivenessProved(nodeId, current);
        }
        _mintEmission(minted);
    }

    /// @inheritdoc IRewards
    /// @dev The work pot is exactly the recorded fees and each node's work is its fees, so the work
    ///      rate is 1 and a node earns back precisely what its jobs paid: volume a node pays to
    ///      itself is a wash, never a profit. Work counts in the epoch current when it is recorded.
    function recordWork(uint256 nodeId, uint256 fee) external onlyJobMarket nonReentrant {
        (uint256 current, uint256 minted) = _closeFinished(type(uint256).max);
        NodeState storage n = _nodes[nodeId];
        _settleWork(n, current);
        uint128 work = SafeCast.toUint128(fee);
        n.workEpoch = SafeCast.toUint32(current);
        n.work += work;
        Epoch storage s = _epochs[current];
        s.totalWork += work;
        s.fees += work;
        _totalFunded += fee;
        emit WorkRecorded(nodeId, current, fee);
        _mintEmission(minted);
    }

    /// @inheritdoc IRewards
    /// @dev Income nobody earned by work (seized collateral nobody was owed, penalties, dust) goes
    ///      to availability like emission: paying it as work would reward whoever caused it.
    ///      It lands in the epoch current when the market pushes it; Rewards never pulls.
    function notifyFees(uint256 amount) external onlyJobMarket nonReentrant {
        (uint256 current, uint256 minted) = _closeFinished(type(uint256).max);
        _epochs[current].income += SafeCast.toUint128(amount);
        _totalFunded += amount;
        emit FeesReceived(current, amount);
        _mintEmission(minted);
    }

    /// @inheritdoc IRewards
    /// @dev Being live but refusing seats must not earn the availability share meant for capacity
    ///      the network can use. If the node already heartbeated this epoch the mark is undone;
    ///      its previous live epoch was settled by that heartbeat, so nothing earned is lost, and
    ///      a pending older live epoch is left untouched. Later epochs are unaffected.
    function recordMissedSeat(uint256 nodeId) external onlyJobMarket nonReentrant {
        (uint256 current, uint256 minted) = _closeFinished(type(uint256).max);
        uint32 epochPlusOne = SafeCast.toUint32(current + 1);
        NodeState storage n = _nodes[nodeId];
        n.missedEpochPlusOne = epochPlusOne;
        // slither-disable-next-line incorrect-equality (epoch numbers: exactly this epoch is meant)
        if (n.liveEpochPlusOne == epochPlusOne) {
            n.liveEpochPlusOne = 0;
            --_epochs[current].liveNodes;
        }
        emit SeatMissed(nodeId, current);
        _mintEmission(minted);
    }

    /// @inheritdoc IRewards
    function checkpoint(uint256 maxEpochs) external nonReentrant {
        (, uint256 minted) = _closeFinished(maxEpochs);
        _mintEmission(minted);
    }

    /// @inheritdoc IRewards
    /// @dev Rewards belong to the licence: whoever owns it at claim time receives everything accrued
    ///      to it, including epochs before they bought it.
    function claim(uint256[] calldata nodeIds) external nonReentrant returns (uint256 amount) {
        (uint256 current, uint256 minted) = _closeFinished(type(uint256).max);
        for (uint256 i; i < nodeIds.length; ++i) {
            uint256 nodeId = nodeIds[i];
            if (_registry.ownerOfNode(nodeId) != msg.sender) revert RewardsNotLicenceOwner(nodeId, msg.sender);
            NodeState storage n = _nodes[nodeId];
            _settleLive(n, current);
            _settleWork(n, current);
            uint256 nodeAmount = n.accrued;
            n.accrued = 0;
            amount += nodeAmount;
            emit RewardsClaimed(msg.sender, nodeId, nodeAmount);
        }
        if (amount == 0) revert RewardsNothingToClaim(msg.sender);
        _totalClaimed += amount;
        _mintEmission(minted);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IRewards
    function setJobMarket(address market) external onlyOwner {
        if (market == address(0)) revert RewardsInvalidAddress();
        if (_jobMarket != address(0)) revert RewardsJobMarketAlreadySet(_jobMarket);
        _jobMarket = market;
        emit JobMarketSet(market);
    }

    // ------------------------------------------------------------------ views
    /// @inheritdoc IRewards
    function currentEpoch() public view returns (uint256) {
        if (block.timestamp < _genesisTime) return 0;
        return (block.timestamp - _genesisTime) / _epochLength;
    }

    /// @inheritdoc IRewards
    function epochLength() external view returns (uint256) {
        return _epochLength;
    }

    /// @inheritdoc IRewards
    function genesisTime() external view returns (uint256) {
        return _genesisTime;
    }

    /// @inheritdoc IRewards
    function emissionForEpoch(uint256 epochId) public view returns (uint256) {
        uint256 halvings = epochId / _halvingEpochs;
        return halvings > 255 ? 0 : _initialEmission >> halvings;
    }

    /// @inheritdoc IRewards
    function epoch(uint256 epochId) external view returns (Epoch memory e) {
        e = _epochs[epochId];
        e.closed = epochId < _nextEpochToClose;
    }

    /// @inheritdoc IRewards
    function lastClosedEpoch() external view returns (uint256 next) {
        return _nextEpochToClose;
    }

    /// @inheritdoc IRewards
    function claimable(uint256 nodeId) external view returns (uint256 amount) {
        NodeState memory n = _nodes[nodeId];
        uint256 current = currentEpoch();
        amount = n.accrued;
        if (n.liveEpochPlusOne != 0 && n.liveEpochPlusOne - 1 < current) {
            (uint256 perNode,) = _ratesOf(n.liveEpochPlusOne - 1);
            amount += perNode;
        }
        if (n.work != 0 && n.workEpoch < current) {
            (, uint256 rate) = _ratesOf(n.workEpoch);
            amount += Math.mulDiv(n.work, rate, WORK_RATE_SCALE);
        }
    }

    /// @inheritdoc IRewards
    function totalMinted() external view returns (uint256) {
        return _totalMinted;
    }

    /// @inheritdoc IRewards
    function totalFunded() external view returns (uint256) {
        return _totalFunded;
    }

    /// @inheritdoc IRewards
    function totalClaimed() external view returns (uint256) {
        return _totalClaimed;
    }

    /// @inheritdoc IRewards
    /// @dev Only the latest missed epoch is remembered (O(1) per node): an earlier miss reads false
    ///      once the node misses again; `SeatMissed` events are the full history.
    function missedSeat(uint256 nodeId, uint256 epochId) external view returns (bool) {
        // slither-disable-next-line incorrect-equality (epoch numbers: exactly this epoch is meant)
        return _nodes[nodeId].missedEpochPlusOne == epochId + 1;
    }

    /// @notice The job market allowed to record work and fees (zero until wired).
    function jobMarket() external view returns (address) {
        return _jobMarket;
    }

    /// @notice The TES token minted and paid out.
    function token() external view returns (address) {
        return address(_token);
    }

    /// @notice The node registry consulted for operators, owners and status.
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @notice Emission of each epoch of the first halving period.
    function initialEmission() external view returns (uint256) {
        return _initialEmission;
    }

    /// @notice Epochs between halvings.
    function halvingEpochs() external view returns (uint256) {
        return _halvingEpochs;
    }

    /// @notice TES that the last closed epoch left unpaid, carried into the next one's pot.
    function carried() external view returns (uint256) {
        return _carry;
    }

    // ------------------------------------------------------------------ internal
    function _checkJobMarket() internal view {
        if (msg.sender != _jobMarket) revert RewardsNotJobMarket(msg.sender);
    }

    /// @dev Closes up to `maxEpochs` finished epochs in order and books their emission; the caller
    ///      mints it with `_mintEmission` once its own effects are done (checks-effects-interactions).
    /// @return current the current (open) epoch
    /// @return minted emission of the epochs just closed, to be minted
    function _closeFinished(uint256 maxEpochs) internal returns (uint256 current, uint256 minted) {
        current = currentEpoch();
        uint256 e = _nextEpochToClose;
        if (e >= current) return (current, 0);
        uint256 end = current - e > maxEpochs ? e + maxEpochs : current;
        uint256 carry = _carry;
        for (; e < end; ++e) {
            Outcome memory o = _outcome(e, carry);
            if (o.availabilityPerNode != 0 || o.workRate != 0) {
                Epoch storage s = _epochs[e];
                // Both fit: `_outcome` clamps them to uint128.
                s.availabilityPerNode = uint128(o.availabilityPerNode);
                s.workRate = uint128(o.workRate);
            }
            carry = o.carryOut;
            minted += o.emission;
            emit EpochClosed(e, o.emission, o.fees, o.availabilityPot, o.workPot, o.carryOut);
        }
        _nextEpochToClose = end;
        _carry = carry;
        _totalMinted += minted;
        _totalFunded += minted;
    }

    /// @dev Mints emission already booked by `_closeFinished` to this contract. The token is
    ///      trusted (our own, capped); the schedule proof in the constructor keeps this under the cap.
    function _mintEmission(uint256 minted) internal {
        if (minted != 0) _token.mint(address(this), minted);
    }

    /// @dev What closing `e` with `carryIn` brought forward decides. Emission, income and the carry
    ///      pay availability; fees pay work. Shares are rounded down and clamped to uint128
    ///      (unreachable for real amounts); whatever is not paid carries into the next
    ///      availability pot (so unpaid emission still ends up with live nodes, never with work).
    function _outcome(uint256 e, uint256 carryIn) internal view returns (Outcome memory o) {
        Epoch storage s = _epochs[e];
        uint256 liveNodes = s.liveNodes;
        uint256 totalWork = s.totalWork;
        o.emission = emissionForEpoch(e);
        o.fees = s.fees;
        o.income = s.income;
        o.availabilityPot = o.emission + o.income + carryIn;
        o.workPot = o.fees;
        if (liveNodes != 0) {
            o.availabilityPerNode = Math.min(o.availabilityPot / liveNodes, type(uint128).max);
        }
        if (totalWork != 0) {
            o.workRate = Math.min(Math.mulDiv(o.workPot, WORK_RATE_SCALE, totalWork), type(uint128).max);
        }
        // Per-node work payouts round down again, so their sum never exceeds the work term.
        o.carryOut = o.availabilityPot + o.workPot - o.availabilityPerNode * liveNodes
            - Math.mulDiv(o.workRate, totalWork, WORK_RATE_SCALE);
    }

    /// @dev Why `nodeId` cannot count for the epoch `livePlusOne - 1`, if it cannot.
    function _skipReason(uint256 nodeId, NodeState storage n, uint32 livePlusOne)
        internal
        view
        returns (bool skip, HeartbeatSkip reason)
    {
        if (_registry.operatorOf(nodeId) != msg.sender) return (true, HeartbeatSkip.NotOperator);
        if (!_registry.isActive(nodeId)) return (true, HeartbeatSkip.NotActive);
        // slither-disable-next-line incorrect-equality (epoch numbers: exactly this epoch is meant)
        if (n.missedEpochPlusOne == livePlusOne) return (true, HeartbeatSkip.MissedSeat);
        return (false, HeartbeatSkip.NotOperator);
    }

    /// @dev Rates of epoch `e`: stored if closed, else simulated from the first open epoch.
    function _ratesOf(uint256 e) internal view returns (uint256 availabilityPerNode, uint256 workRate) {
        uint256 next = _nextEpochToClose;
        if (e < next) {
            Epoch storage s = _epochs[e];
            return (s.availabilityPerNode, s.workRate);
        }
        uint256 carry = _carry;
        for (uint256 i = next; i < e; ++i) {
            carry = _outcome(i, carry).carryOut;
        }
        Outcome memory o = _outcome(e, carry);
        return (o.availabilityPerNode, o.workRate);
    }

    /// @dev Moves a finished live epoch's availability share into `accrued`.
    function _settleLive(NodeState storage n, uint256 current) internal {
        uint256 livePlusOne = n.liveEpochPlusOne;
        if (livePlusOne == 0 || livePlusOne - 1 >= current) return;
        n.accrued += _epochs[livePlusOne - 1].availabilityPerNode;
        n.liveEpochPlusOne = 0;
    }

    /// @dev Moves a finished work epoch's work share into `accrued`.
    function _settleWork(NodeState storage n, uint256 current) internal {
        uint256 work = n.work;
        if (work == 0 || n.workEpoch >= current) return;
        n.accrued += SafeCast.toUint128(Math.mulDiv(work, _epochs[n.workEpoch].workRate, WORK_RATE_SCALE));
        n.work = 0;
    }
}
