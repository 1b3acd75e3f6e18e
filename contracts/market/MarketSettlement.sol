// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IJobMarket} from "../interfaces/IJobMarket.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {IRewards} from "../interfaces/IRewards.sol";
import {JobRecord} from "../types/JobRecord.sol";
import {Seats} from "../libraries/Seats.sol";

/// @title MarketSettlement
/// @notice The market's storage and who is paid what when a round ends. The rule every branch
///         follows: losers pay winners. Seized collateral goes to the seats (and the disputer) that
///         were right, a keeper's bounty, and otherwise to the rewards pot; a client never gets
///         more than its own payment back, so owning a replica that fails can never pay it.
/// @dev    Every entry point that reaches here holds the market's nonReentrant guard, and external
///         calls go only to the token, registry and rewards contracts fixed at construction.
// slither-disable-start reentrancy-no-eth,reentrancy-benign,reentrancy-events
abstract contract MarketSettlement is IJobMarket, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using Seats for IJobMarket.Replica;
    using Seats for mapping(uint256 => IJobMarket.Replica);

    uint256 public constant BPS = 10_000;
    /// @notice What a drawn node that does not accept in time pays, of the job's collateral.
    uint256 public constant SEAT_PENALTY_BPS = 1_000;
    /// @notice A successful disputer's share of the overturned node's seized collateral (the rest
    ///         pays the jurors who were right).
    uint256 public constant DISPUTER_SHARE_BPS = 5_000;
    /// @notice What a disputer pays, of its bond, to the node it held up when no jury answers.
    uint256 public constant DISPUTE_FEE_BPS = 1_000;

    IERC20 internal immutable _token;
    INodeRegistry internal immutable _registry;
    IRewards internal immutable _rewards;

    uint256 internal _pendingFees;
    // Written through storage pointers, which slither's uninitialized-state detector does not follow.
    // slither-disable-next-line uninitialized-state
    mapping(uint256 jobId => JobRecord) internal _jobs;
    // slither-disable-next-line uninitialized-state
    mapping(uint256 jobId => mapping(uint256 index => Replica)) internal _seats;
    mapping(address account => uint256) internal _credited;

    constructor(IERC20 token_, INodeRegistry registry_, IRewards rewards_) {
        _token = token_;
        _registry = registry_;
        _rewards = rewards_;
    }

    // ------------------------------------------------------------------ round settlement
    /// @dev Every seat due has revealed, or the reveal deadline passed (`byKeeper`: only then does
    ///      the caller earn a bounty; a replica completing the round is doing its own job).
    function _settle(uint256 jobId, JobRecord storage j, bool byKeeper) internal {
        if (j.round == 0) _settleReplicated(jobId, j, byKeeper);
        else _settleDispute(jobId, j, byKeeper);
    }

    /// @dev k >= 3: more than half of the seats that revealed must agree. No-shows and dissenters
    ///      are seized and their collateral pays the majority; without a majority nobody is shown
    ///      wrong: revealers are released, no-shows still seized, the client refunded.
    function _settleReplicated(uint256 jobId, JobRecord storage j, bool byKeeper) private {
        (bytes32 best, uint256 votes, uint256 revealed) = _seats[jobId].majority(j.replicaCount, 0);
        bool quorum = votes * 2 > revealed;
        uint256 seized = _releaseOrSeize(jobId, j, 0, quorum, best);
        if (quorum) _payMajority(jobId, j, best, votes, seized, byKeeper);
        else _fail(jobId, j, seized, byKeeper);
    }

    function _payMajority(uint256 jobId, JobRecord storage j, bytes32 best, uint256 votes, uint256 seized, bool byKeeper)
        private
    {
        j.status = JobStatus.Paid;
        j.commitment = best;
        uint256 bounty = byKeeper ? _min(seized, j.bounty(j.payment)) : 0;
        _credit(jobId, msg.sender, bounty);
        uint256 fee = j.fee();
        seized = j.payment - fee + seized - bounty; // what the majority shares
        uint256 each = _payVoters(jobId, j, 0, best, votes, seized, fee);
        emit ResultAccepted(jobId, best, block.timestamp);
        emit JobPaid(jobId, best, each * votes, fee);
    }

    function _fail(uint256 jobId, JobRecord storage j, uint256 seized, bool byKeeper) private {
        j.status = JobStatus.Failed;
        emit JobFailed(jobId);
        uint256 bounty = byKeeper ? _min(seized, j.bounty(j.payment)) : 0;
        uint256 fromRefund = byKeeper ? j.bounty(j.payment) - bounty : 0;
        _credit(jobId, msg.sender, bounty + fromRefund);
        _pendingFees += seized - bounty;
        _credit(jobId, j.client, j.payment - fromRefund);
    }

    /// @dev A k = 1 dispute: the jury's majority (of the jurors that revealed) against the original
    ///      node's revealed result. An original node that did not reveal loses.
    function _settleDispute(uint256 jobId, JobRecord storage j, bool byKeeper) private {
        Replica storage orig = _seats[jobId][0];
        (bytes32 best, uint256 votes, uint256 revealed) = _seats[jobId].majority(j.replicaCount, 1);
        bool quorum = votes * 2 > revealed;
        uint256 jurySeized = _releaseOrSeize(jobId, j, 1, quorum, best);
        if (orig.state != SeatState.Revealed || (quorum && best != orig.commitment)) {
            _overturn(jobId, j, orig.nodeId, quorum, best, votes, jurySeized, byKeeper);
            return;
        }
        bytes32 result = orig.commitment;
        emit DisputeResolved(jobId, true, best);
        if (quorum) {
            // The disputer was wrong: its bond (and silent jurors' collateral) pays the jury.
            uint256 pot = uint256(j.collateral) + jurySeized;
            uint256 bounty = byKeeper ? _min(pot, j.bounty(j.collateral)) : 0;
            _credit(jobId, msg.sender, bounty);
            _payVoters(jobId, j, 1, best, votes, pot - bounty, 0);
        } else {
            _disputeUntaken(jobId, j, orig.nodeId, jurySeized, byKeeper);
        }
        _payOriginal(jobId, j, result, false);
    }

    function _overturn(
        uint256 jobId,
        JobRecord storage j,
        uint256 original,
        bool quorum,
        bytes32 best,
        uint256 votes,
        uint256 jurySeized,
        bool byKeeper
    ) private {
        j.status = JobStatus.Overturned;
        j.commitment = quorum ? best : bytes32(0);
        emit DisputeResolved(jobId, false, best);
        uint256 taken = _seize(jobId, original, j.collateral);
        uint256 share = taken * DISPUTER_SHARE_BPS / BPS;
        uint256 rest = taken - share + jurySeized;
        uint256 bounty = byKeeper ? _min(rest, j.bounty(taken)) : 0;
        _credit(jobId, msg.sender, bounty);
        if (quorum) _payVoters(jobId, j, 1, best, votes, rest - bounty, 0);
        else _pendingFees += rest - bounty;
        _credit(jobId, j.disputer, uint256(j.collateral) + share);
        _credit(jobId, j.client, j.payment);
        emit JobOverturned(jobId);
    }

    /// @dev No jury formed or answered: nobody re-ran the job, so the result stands and the
    ///      disputer pays DISPUTE_FEE_BPS of its bond to the node it held up; no bounty to it.
    function _disputeUntaken(uint256 jobId, JobRecord storage j, uint256 original, uint256 taken, bool byKeeper)
        internal
    {
        uint256 bond = j.collateral;
        uint256 fee = bond * DISPUTE_FEE_BPS / BPS;
        _credit(jobId, j.disputer, bond - fee);
        _credit(jobId, _ownerOf(original), fee);
        uint256 bounty = byKeeper ? _min(taken, j.bounty(j.payment)) : 0;
        _credit(jobId, msg.sender, bounty);
        _pendingFees += taken - bounty;
    }

    /// @dev Pays the k = 1 job's node: payment minus fee to the licence owner, collateral released,
    ///      the fee to the rewards pot as the node's work. A keeper's bounty comes from the fee.
    function _payOriginal(uint256 jobId, JobRecord storage j, bytes32 result, bool withBounty) internal {
        j.status = JobStatus.Paid;
        uint256 nodeId = _seats[jobId][0].nodeId;
        uint256 fee = j.fee();
        uint256 net = j.payment - fee;
        uint256 bounty = withBounty ? _min(fee, j.bounty(j.payment)) : 0;
        _release(nodeId, j.collateral, INodeRegistry.Outcome.Completed);
        _credit(jobId, _ownerOf(nodeId), net);
        _credit(jobId, msg.sender, bounty);
        _toRewards(nodeId, fee - bounty);
        emit JobPaid(jobId, result, net, fee);
    }

    // ------------------------------------------------------------------ expiry
    /// @dev The round never filled (Open, Seating) or nobody proved (Running, round 0). The client
    ///      gets its payment back, less a keeper bounty that seized collateral and penalties pay
    ///      first; a dispute jury that never formed leaves the original result standing.
    function _expireUnfilled(uint256 jobId, JobRecord storage j, JobStatus status) internal {
        uint256 taken;
        if (status == JobStatus.Running) {
            taken = _releaseOrSeize(jobId, j, j.round, false, bytes32(0));
        } else {
            (taken,) = _dropLateSeats(jobId, j);
            _releaseAccepted(jobId, j);
        }
        if (j.round == 1) {
            emit DisputeResolved(jobId, true, bytes32(0));
            _disputeUntaken(jobId, j, _seats[jobId][0].nodeId, taken, true);
            _payOriginal(jobId, j, j.commitment, false);
            return;
        }
        emit JobExpired(jobId, status);
        j.status = JobStatus.Expired;
        uint256 bounty = j.bounty(j.payment);
        uint256 fromTaken = _min(bounty, taken);
        _credit(jobId, msg.sender, bounty);
        _pendingFees += taken - fromTaken;
        _credit(jobId, j.client, j.payment - (bounty - fromTaken));
    }

    /// @dev Drops every drawn seat of the round whose accept deadline passed: the node pays
    ///      SEAT_PENALTY_BPS of the collateral from free stake and loses the epoch's availability.
    function _dropLateSeats(uint256 jobId, JobRecord storage j) internal returns (uint256 penalties, uint256 dropped) {
        uint256 count = j.replicaCount;
        uint256 penalty = uint256(j.collateral) * SEAT_PENALTY_BPS / BPS;
        for (uint256 i; i < count; ++i) {
            Replica storage seat = _seats[jobId][i];
            if (seat.round != j.round || seat.state != SeatState.Drawn || block.timestamp <= seat.acceptDeadline) {
                continue;
            }
            seat.state = SeatState.Dropped;
            --j.seated;
            ++dropped;
            uint256 taken = _registry.penalize(seat.nodeId, penalty);
            _rewards.recordMissedSeat(seat.nodeId);
            penalties += taken;
            emit SeatDropped(jobId, seat.nodeId, taken);
        }
    }

    function _releaseAccepted(uint256 jobId, JobRecord storage j) private {
        uint256 count = j.replicaCount;
        for (uint256 i; i < count; ++i) {
            Replica storage seat = _seats[jobId][i];
            if (seat.round == j.round && seat.state == SeatState.Claimed) {
                _release(seat.nodeId, j.collateral, INodeRegistry.Outcome.NoFault);
            }
        }
    }

    // ------------------------------------------------------------------ seats and money
    /// @dev For each seat of `round` holding collateral: release it if it revealed (and, with a
    ///      quorum, revealed `best`), counting Completed with a quorum and NoFault without; seize it
    ///      otherwise. `quorum` is separate from `best` because bytes32(0) is a result like any other.
    function _releaseOrSeize(uint256 jobId, JobRecord storage j, uint8 round, bool quorum, bytes32 best)
        private
        returns (uint256 seized)
    {
        uint256 count = j.replicaCount;
        for (uint256 i; i < count; ++i) {
            Replica storage seat = _seats[jobId][i];
            if (seat.round != round || !seat.holdsCollateral()) continue;
            if (seat.state == SeatState.Revealed && (!quorum || seat.commitment == best)) {
                _release(seat.nodeId, j.collateral, quorum ? INodeRegistry.Outcome.Completed : INodeRegistry.Outcome.NoFault);
            } else {
                seized += _seize(jobId, seat.nodeId, j.collateral);
            }
        }
    }

    /// @dev Splits `amount` (to the owners) and `fee` (to the rewards pot, as each node's work)
    ///      equally among the seats of `round` that revealed `best`; dust joins the pending fees.
    function _payVoters(
        uint256 jobId,
        JobRecord storage j,
        uint8 round,
        bytes32 best,
        uint256 votes,
        uint256 amount,
        uint256 fee
    ) private returns (uint256 each) {
        each = amount / votes;
        // Equal shares round down; the remainder (dust) is computed from them on purpose.
        // slither-disable-next-line divide-before-multiply
        uint256 feeEach = fee / votes;
        uint256 count = j.replicaCount;
        for (uint256 i; i < count; ++i) {
            Replica storage seat = _seats[jobId][i];
            if (!seat.agrees(round, best)) continue;
            _credit(jobId, _ownerOf(seat.nodeId), each);
            _toRewards(seat.nodeId, feeEach);
        }
        // slither-disable-next-line divide-before-multiply
        _pendingFees += amount - each * votes + fee - feeEach * votes;
    }

    function _toRewards(uint256 nodeId, uint256 fee) private {
        // slither-disable-next-line incorrect-equality (nothing to send, not a balance check)
        if (fee == 0) return;
        _token.safeTransfer(address(_rewards), fee);
        _rewards.recordWork(nodeId, fee);
    }

    // One call site per external function keeps the market under the 24 KB code limit.
    function _release(uint256 nodeId, uint256 amount, INodeRegistry.Outcome outcome) private {
        _registry.release(nodeId, amount, outcome);
    }

    function _seize(uint256 jobId, uint256 nodeId, uint256 amount) private returns (uint256 taken) {
        taken = _registry.seize(nodeId, amount);
        emit CollateralSeized(jobId, nodeId, taken);
    }

    function _ownerOf(uint256 nodeId) internal view returns (address) {
        return _registry.ownerOfNode(nodeId);
    }

    function _lock(uint256 nodeId, JobRecord storage j) internal {
        _registry.lockForClaim(nodeId, msg.sender, j.requirements(), j.collateral);
    }

    function _credit(uint256 jobId, address account, uint256 amount) internal {
        // slither-disable-next-line incorrect-equality (nothing to credit, not a balance check)
        if (amount == 0) return;
        _credited[account] += amount;
        emit Credited(jobId, account, amount);
    }

    function _job(uint256 jobId) internal view returns (JobRecord storage j) {
        j = _jobs[jobId];
        if (j.status == JobStatus.None) revert JobMarketUnknownJob(jobId);
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }
}
// slither-disable-end reentrancy-no-eth,reentrancy-benign,reentrancy-events
