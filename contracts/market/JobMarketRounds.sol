// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {IRewards} from "../interfaces/IRewards.sol";
import {JobRecord} from "../types/JobRecord.sol";
import {JobMoneyLib, JobTermsLib} from "../types/JobTerms.sol";
import {JobSlot, JobSlotLib} from "../types/JobSlot.sol";
import {Seats} from "../libraries/Seats.sol";
import {MarketSeating} from "./MarketSeating.sol";

/// @title JobMarketRounds
/// @notice The market's rounds module: disputes, drawing and redrawing seats, reveals and expiry,
///         the paths of replicated jobs and juries. The {JobMarket} that creates it runs these
///         entry points by DELEGATECALL on its own storage (same bases, so the same layout), behind
///         its own reentrancy and pause guards; called directly, every one of them reverts.
/// @dev    Why a module: the market with every path in one contract is past the 24,576-byte code
///         limit, and these paths are the ones a k = 1 job never takes, so the extra ~2,600 gas
///         of a delegated call falls on replicated jobs and disputes, not the common case.
// slither-disable-start reentrancy-no-eth,reentrancy-benign,reentrancy-events
contract JobMarketRounds is MarketSeating {
    using SafeERC20 for IERC20;
    using Seats for mapping(uint256 => Replica);
    using JobTermsLib for JobTerms;

    address private immutable _self;

    constructor(IERC20 token_, INodeRegistry registry_, IRewards rewards_) MarketSeating(token_, registry_, rewards_) {
        _self = address(this);
    }

    /// @dev Only as the market's code: called directly, this contract's own storage holds no job.
    modifier onlyDelegated() {
        if (address(this) == _self) revert JobMarketRoundsNotDelegated();
        _;
    }

    /// @notice See {IJobMarket-dispute}.
    function dispute(JobTerms calldata terms) external onlyDelegated {
        uint256 jobId = terms.idOf();
        JobSlot s = _slots[jobId];
        if (s.status() != JobStatus.None) {
            if (s.status() != JobStatus.Accepted) revert JobMarketNotDisputable(jobId);
            _promote(jobId, s, terms);
        }
        JobRecord storage j = _job(jobId);
        if (j.status != JobStatus.Accepted) revert JobMarketNotDisputable(jobId);
        if (block.timestamp > j.deadline) revert JobMarketDeadlinePassed(jobId, j.deadline);
        uint256 original = _seats[jobId][0].nodeId;
        // A free dispute would let anyone stall payment for a whole re-run at no cost; a node that
        // disputes itself would only pick its own jury's verdict over the client's.
        if (j.collateral == 0 || msg.sender == _registry.operatorOf(original) || msg.sender == _ownerOf(original)) {
            revert JobMarketNotDisputable(jobId);
        }
        j.disputer = msg.sender;
        _newRound(jobId, j, _params.disputeReplicas);
        emit JobDisputed(jobId, msg.sender, j.collateral);
        _token.safeTransferFrom(msg.sender, address(this), j.collateral);
        emit BondPosted(jobId, msg.sender, j.collateral);
    }

    /// @notice See {IJobMarket-reveal}.
    function reveal(Reveal[] calldata reveals) external onlyDelegated {
        for (uint256 i; i < reveals.length; ++i) {
            Reveal calldata rv = reveals[i];
            JobRecord storage j = _job(rv.jobId);
            if (j.status != JobStatus.Revealing) revert JobMarketWrongStatus(rv.jobId, j.status);
            if (block.timestamp > j.deadline) revert JobMarketDeadlinePassed(rv.jobId, j.deadline);
            (Replica storage seat, bool found) = _seats[rv.jobId].find(j.replicaCount, rv.nodeId);
            if (!found) revert JobMarketNotReplica(rv.jobId, rv.nodeId);
            // In a dispute the original k = 1 node (round 0) reveals next to the jurors, against
            // the commitment its proof put in the job record.
            // A one-slot job kept only its proof's fingerprint (JobSlot), which the opening must match.
            bool original = j.originalReveals() && seat.round == 0;
            bytes32 committed = original ? j.commitment : seat.commitment;
            if (seat.state != SeatState.Committed || (seat.round != j.round && !original)) {
                revert JobMarketWrongSeatState(rv.jobId, rv.nodeId, seat.state);
            }
            bytes32 opened = _commitmentOf(rv.jobId, rv.nodeId, rv.resultHash, rv.salt);
            if ((original ? JobSlotLib.fingerprintOf(opened) : opened) != committed) {
                revert JobMarketCommitmentMismatch(rv.jobId, rv.nodeId);
            }
            seat.state = SeatState.Revealed;
            seat.commitment = rv.resultHash;
            uint8 revealed = j.reveals + 1;
            j.reveals = revealed;
            emit ResultRevealed(rv.jobId, rv.nodeId, rv.resultHash);
            if (revealed == j.revealsExpected()) _settle(rv.jobId, j, false);
        }
    }

    /// @notice See {IJobMarket-draw}.
    function draw(uint256 jobId) external onlyDelegated {
        JobRecord storage j = _job(jobId);
        if (j.status != JobStatus.Seating) revert JobMarketWrongStatus(jobId, j.status);
        uint256 anchor = j.drawBlock;
        if (anchor == 0 || block.number <= anchor || j.seated >= j.k || block.timestamp > j.deadline) {
            revert JobMarketNothingToDraw(jobId, anchor);
        }
        _drawSeats(jobId, j, anchor, _params.acceptWindow);
    }

    /// @notice See {IJobMarket-redraw}.
    function redraw(uint256 jobId) external onlyDelegated {
        JobRecord storage j = _job(jobId);
        if (j.status != JobStatus.Seating) revert JobMarketWrongStatus(jobId, j.status);
        (uint256 penalties, uint256 dropped) = _dropLateSeats(jobId, j);
        if (dropped == 0) revert JobMarketNothingToRedraw(jobId);
        uint256 bounty = _min(penalties, j.bounty(j.payment));
        _credit(jobId, msg.sender, bounty);
        _pendingFees += penalties - bounty;
        _anchorRedraw(jobId, j);
    }

    /// @notice See {IJobMarket-expire}.
    function expire(JobTerms calldata terms) external onlyDelegated {
        uint256 jobId = terms.idOf();
        JobSlot s = _slots[jobId];
        if (s.status() != JobStatus.None) return _expireSlot(jobId, s, terms);
        JobRecord storage j = _job(jobId);
        JobStatus status = j.status;
        if (status != JobStatus.Open && status != JobStatus.Seating && status != JobStatus.Running
            && status != JobStatus.Revealing) revert JobMarketWrongStatus(jobId, status);
        if (block.timestamp <= j.deadline) revert JobMarketDeadlineNotReached(jobId, j.deadline);
        if (status == JobStatus.Revealing) {
            _settle(jobId, j, true);
        } else if (status == JobStatus.Running && (j.commits != 0 || j.originalReveals())) {
            // A round settles on the seats that answered: those that committed reveal now, the
            // rest are seized at settlement. A dispute always reveals (the original node must).
            _startReveal(jobId, j);
        } else {
            _expireUnfilled(jobId, j, status);
        }
    }

    /// @dev A one-slot k = 1 job past its claim or execution deadline: the client is refunded, less
    ///      the keeper's bounty, which the node's seized collateral pays first (as `_expireUnfilled`
    ///      does for round 0 of a record).
    function _expireSlot(uint256 jobId, JobSlot s, JobTerms calldata terms) private {
        JobStatus status = s.status();
        if (status != JobStatus.Open && status != JobStatus.Running) revert JobMarketWrongStatus(jobId, status);
        if (block.timestamp <= s.time()) revert JobMarketDeadlineNotReached(jobId, s.time());
        _slots[jobId] = s.moved(JobStatus.Expired, s.time());
        emit JobExpired(jobId, status);
        uint256 taken = status == JobStatus.Running ? _seize(jobId, s.nodeId(), terms.collateral) : 0;
        uint256 bounty = JobMoneyLib.fromTerms(terms).bounty(terms.payment);
        uint256 fromTaken = _min(bounty, taken);
        _credit(jobId, msg.sender, bounty);
        _pendingFees += taken - fromTaken;
        _credit(jobId, terms.client, terms.payment - (bounty - fromTaken));
    }

    /// @dev A dispute turns a one-slot job into a full record (the word is cleared): the jury's
    ///      rounds, reveals and verdicts need every field. The seat's operator is the node's operator
    ///      now (the one that claimed is only in `JobClaimed`), which the jury draw excludes.
    function _promote(uint256 jobId, JobSlot s, JobTerms calldata t) private {
        JobRecord storage j = _jobs[jobId];
        j.setTerms(t);
        (j.deadline, j.status) = (uint40(s.time()), JobStatus.Accepted);
        (j.claims, j.commits, j.replicaCount, j.seated) = (1, 1, 1, 1);
        j.commitment = s.fingerprint();
        Replica storage seat = _seats[jobId][0];
        uint256 nodeId = s.nodeId();
        (seat.nodeId, seat.state, seat.operator) = (uint32(nodeId), SeatState.Committed, _registry.operatorOf(nodeId));
        _slots[jobId] = JobSlot.wrap(0);
    }
}
// slither-disable-end reentrancy-no-eth,reentrancy-benign,reentrancy-events
