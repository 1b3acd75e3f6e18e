// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IJobMarket, IJobMarketTypes} from "../interfaces/IJobMarket.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {IRewards} from "../interfaces/IRewards.sol";
import {Account, AccountLib} from "../types/Account.sol";
import {JobRecord} from "../types/JobRecord.sol";
import {JobSlot} from "../types/JobSlot.sol";
import {JobMoney, JobMoneyLib, JobTermsLib} from "../types/JobTerms.sol";
import {Seats} from "../libraries/Seats.sol";
import {MarketRules} from "../libraries/MarketRules.sol";

/// @title MarketSettlement
/// @notice The market's storage and who is paid what when a round ends. The rule every branch
///         follows: losers pay winners. Seized collateral goes to the seats (and the disputer) that
///         were right, a keeper's bounty, and otherwise to the rewards pot; a client never gets
///         more than its own payment back, so owning a replica that fails can never pay it.
/// @dev    Every entry point that reaches here holds the market's nonReentrant guard, and external
///         calls go only to the token, registry and rewards contracts fixed at construction.
// slither-disable-start reentrancy-no-eth,reentrancy-benign,reentrancy-events
abstract contract MarketSettlement is IJobMarketTypes, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using Seats for IJobMarketTypes.Replica;
    using Seats for mapping(uint256 => IJobMarketTypes.Replica);
    using JobTermsLib for IJobMarketTypes.JobTerms;
    using AccountLib for Account;

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

    // All of the market's storage is declared here, in the one base that both the market and its
    // rounds module (which runs on the market's storage by DELEGATECALL) inherit first: the two
    // layouts are the same by construction.
    // Set by the market's constructor and governance; the rounds module reads it on the market's
    // storage, which slither's per-contract view cannot see.
    // slither-disable-next-line uninitialized-state
    Parameters internal _params;
    uint256 internal _pendingFees;
    // Written through storage pointers, which slither's uninitialized-state detector does not follow.
    // slither-disable-next-line uninitialized-state
    mapping(uint256 jobId => JobRecord) internal _jobs;
    // slither-disable-next-line uninitialized-state
    mapping(uint256 jobId => mapping(uint256 index => Replica)) internal _seats;
    // Credited TES and a client's nonces, one slot per address (types/Account.sol).
    mapping(address account => Account) internal _accounts;
    mapping(uint256 nodeId => NodeLedger) internal _ledgers;
    // A k = 1 job lives here, one word, until a dispute promotes it to `_jobs` (the word is then
    // cleared): a zero word names no slot job.
    mapping(uint256 jobId => JobSlot) internal _slots;

    // Rewards' epoch clock, read once: the ledger needs "which epoch is it" on every settlement.
    uint256 private immutable _epochGenesis;
    uint256 private immutable _epochLength;

    constructor(IERC20 token_, INodeRegistry registry_, IRewards rewards_) {
        _token = token_;
        _registry = registry_;
        _rewards = rewards_;
        _epochGenesis = rewards_.genesisTime();
        _epochLength = rewards_.epochLength();
    }

    /// @dev A run of `settleAndWithdraw`: consecutive jobs of node `nodeId` (owned by `owner`), of
    ///      which `paid` were paid, holding `collateral` to release; `amount`: earnings drained so far.
    struct SettleRun {
        address owner;
        uint256 nodeId;
        uint256 collateral;
        uint256 paid;
        uint256 amount;
    }

    /// @dev What a verdict is: `result` (none if `!found`), decided by round `last`.
    struct Verdict {
        bytes32 result;
        bool found;
        uint8 last;
    }

    // ------------------------------------------------------------------ round settlement
    /// @dev Every seat due has revealed, or the reveal deadline passed (`byKeeper`: only then does
    ///      the caller earn a bounty; a replica completing the round is doing its own job).
    ///      A round whose revealed seats all agree decides. A majority with a dissent is not trusted
    ///      to itself: a fresh round of 2k + 1 seats, drawn from nodes that never sat in the job,
    ///      re-runs the job (while MAX_REPLICAS allows), so out-voting an honest seat needs the
    ///      larger round too. A round without a majority decided nothing: the verdict before it
    ///      stands (round 0 of k >= 3: the job fails).
    function _settle(uint256 jobId, JobRecord storage j, bool byKeeper) internal {
        uint8 round = j.round;
        (bytes32 best, uint256 votes, uint256 revealed) = _seats[jobId].majority(j.replicaCount, round);
        if (votes * 2 > revealed) {
            if (votes < revealed && _escalate(jobId, j, best)) return;
            _decide(jobId, j, Verdict(best, true, round), 0, byKeeper);
            return;
        }
        uint256 seized = _releaseOrSeize(jobId, j, round);
        if (round == 0) _fail(jobId, j, seized, byKeeper);
        else _standing(jobId, j, seized, byKeeper);
    }

    /// @dev Round `j.round` decided nothing (no majority, or it never formed): the verdict before
    ///      it stands. Before a k = 1 job's first jury that is the original node's revealed result,
    ///      and none if it stayed silent (it loses).
    function _standing(uint256 jobId, JobRecord storage j, uint256 seized, bool byKeeper) internal {
        uint8 last = j.round - 1;
        Replica storage orig = _seats[jobId][0];
        if (last == 0 && j.disputer != address(0)) {
            bool revealed = orig.state == SeatState.Revealed;
            _decide(jobId, j, Verdict(revealed ? orig.commitment : bytes32(0), revealed, 0), seized, byKeeper);
        } else {
            _decide(jobId, j, Verdict(j.commitment, true, last), seized, byKeeper);
        }
    }

    function _escalate(uint256 jobId, JobRecord storage j, bytes32 standing) private returns (bool) {
        uint256 seats = uint256(j.k) * 2 + 1;
        if (seats > MarketRules.MAX_REPLICAS) return false;
        j.commitment = standing;
        emit RoundEscalated(jobId, j.round + 1, seats, standing);
        _newRound(jobId, j, seats);
        return true;
    }

    /// @dev What a proof commits to: the result hash stays hidden until its seat reveals.
    function _commitmentOf(uint256 jobId, uint256 nodeId, bytes32 resultHash, bytes32 salt)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(jobId, nodeId, resultHash, salt));
    }

    /// @dev Every committed seat of the round may reveal now (or the execution deadline passed).
    function _startReveal(uint256 jobId, JobRecord storage j) internal {
        j.status = JobStatus.Revealing;
        j.deadline = uint40(block.timestamp + j.revealWindow);
        emit RevealPhaseStarted(jobId, j.round, j.deadline);
    }

    /// @dev Starts round `j.round + 1` with `seats` seats to draw (MarketSeating).
    function _newRound(uint256 jobId, JobRecord storage j, uint256 seats) internal virtual;

    /// @dev What judging a verdict found: collateral seized, seats of round 0 (workers) and of
    ///      later rounds (jurors) that agreed, and what the original k = 1 seat lost.
    struct Tally {
        uint256 seized;
        uint256 workers;
        uint256 jurors;
        uint256 originalTaken;
    }

    /// @dev Settles the job on verdict `v`. Seats of rounds 0..v.last are judged by it (agreed:
    ///      released and paid; otherwise seized); a later round that decided nothing was settled by
    ///      the caller (`seized`). Round 0's agreeing seats share the payment (none: the client is
    ///      refunded); agreeing jurors share what was seized (and a wrong disputer's bond); without
    ///      jurors it goes to round 0's seats of a k >= 3 job, or to the fees.
    function _decide(uint256 jobId, JobRecord storage j, Verdict memory v, uint256 seized, bool byKeeper) private {
        Tally memory t = _judge(jobId, j, v);
        t.seized += seized;
        bool disputed = j.disputer != address(0);
        if (disputed) {
            _settleBond(jobId, j, t);
            emit DisputeResolved(jobId, t.workers != 0, v.result);
        }
        uint256 pot = t.seized;
        uint256 bounty = byKeeper ? _min(pot, j.bounty(j.payment)) : 0;
        _credit(jobId, msg.sender, bounty);
        pot -= bounty;
        j.commitment = v.result;
        if (t.workers == 0) {
            j.status = JobStatus.Overturned;
            _credit(jobId, j.client, j.payment);
            emit JobOverturned(jobId);
        } else {
            j.status = JobStatus.Paid;
            uint256 fee = j.fee();
            uint256 net = j.payment - fee;
            if (t.jurors == 0 && !disputed) (net, pot) = (net + pot, 0);
            uint256 each = _payVoters(jobId, j, 0, 0, v.result, t.workers, net, fee);
            if (!disputed) emit ResultAccepted(jobId, v.result, block.timestamp);
            emit JobPaid(jobId, v.result, each * t.workers, fee);
        }
        if (t.jurors != 0) _payVoters(jobId, j, 1, v.last, v.result, t.jurors, pot, 0);
        else _pendingFees += pot;
    }

    /// @dev Releases the seats of rounds 0..v.last that revealed the verdict and seizes the rest
    ///      that hold collateral.
    function _judge(uint256 jobId, JobRecord storage j, Verdict memory v) private returns (Tally memory t) {
        uint256 count = j.replicaCount;
        for (uint256 i; i < count; ++i) {
            Replica storage seat = _seats[jobId][i];
            if (seat.round > v.last || !seat.holdsCollateral()) continue;
            if (v.found && seat.agrees(0, v.last, v.result)) {
                _release(seat.nodeId, j.collateral, INodeRegistry.Outcome.Completed);
                if (seat.round == 0) ++t.workers;
                else ++t.jurors;
            } else {
                uint256 taken = _seize(jobId, seat.nodeId, j.collateral);
                t.seized += taken;
                if (i == 0) t.originalTaken = taken;
            }
        }
    }

    /// @dev A k = 1 dispute's bond. The original lost: back, with DISPUTER_SHARE_BPS of the
    ///      original's seized collateral. Upheld by a jury: it joins the jurors' pot. No jury decided
    ///      anything: back, less DISPUTE_FEE_BPS to the node it held up.
    function _settleBond(uint256 jobId, JobRecord storage j, Tally memory t) private {
        if (t.workers == 0) {
            uint256 share = t.originalTaken * DISPUTER_SHARE_BPS / BPS;
            t.seized -= share;
            _credit(jobId, j.disputer, uint256(j.collateral) + share);
        } else if (t.jurors != 0) {
            t.seized += j.collateral;
        } else {
            _returnBond(jobId, j);
        }
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

    /// @dev No jury formed or answered: nobody re-ran the job, so the result stands and the
    ///      disputer pays DISPUTE_FEE_BPS of its bond to the node it held up; no bounty to it.
    function _returnBond(uint256 jobId, JobRecord storage j) private {
        uint256 bond = j.collateral;
        uint256 fee = bond * DISPUTE_FEE_BPS / BPS;
        _credit(jobId, j.disputer, bond - fee);
        _earn(jobId, _seats[jobId][0].nodeId, fee);
    }

    /// @dev Pays the k = 1 job's node (the caller marked the job Paid): payment minus fee to its
    ///      ledger, collateral released, the fee as the node's work. A keeper's bounty comes out of
    ///      the fee.
    function _payOriginal(uint256 jobId, uint256 nodeId, JobMoney memory m, bytes32 result, bool withBounty)
        internal
    {
        _release(nodeId, m.collateral, INodeRegistry.Outcome.Completed);
        _payNet(jobId, nodeId, m, result, withBounty);
    }

    /// @dev `_payOriginal` less the release: `settleAndWithdraw` releases a run's collateral at once.
    function _payNet(uint256 jobId, uint256 nodeId, JobMoney memory m, bytes32 result, bool withBounty) private {
        uint256 fee = m.fee();
        uint256 net = m.payment - fee;
        uint256 bounty = withBounty ? _min(fee, m.bounty(m.payment)) : 0;
        _earn(jobId, nodeId, net);
        _credit(jobId, msg.sender, bounty);
        emit JobPaid(jobId, result, net, fee);
        _addWork(nodeId, fee - bounty);
    }

    /// @dev One job of `settleAndWithdraw`: pays it like `finalize` but without the keeper's bounty.
    ///      Consecutive jobs of one node are a run (`SettleRun`): the caller's right to settle them
    ///      (the node's owner or operator, one owner for the whole call, checked on skipped jobs
    ///      too, so that the earnings the call sends are that owner's) is checked once per run, and
    ///      the run's collateral released and its earnings drained once, when it ends.
    ///      Only a one-slot job can be Accepted and unsettled: a disputed job (a record) is
    ///      settled by its jury, so here it is skipped like any job past its dispute.
    function _settleOwn(JobTerms calldata terms, SettleRun memory run) internal {
        uint256 jobId = terms.idOf();
        JobSlot s = _slots[jobId];
        (JobStatus status, uint256 deadline) = (s.status(), s.time());
        uint256 nodeId;
        // slither-disable-next-line incorrect-equality (an enum and ids, not balances)
        if (status == JobStatus.None) {
            JobRecord storage j = _job(jobId);
            (status, deadline, nodeId) = (j.status, j.deadline, _seats[jobId][0].nodeId);
        } else {
            nodeId = s.nodeId();
        }
        // slither-disable-next-line incorrect-equality (an id, not a balance)
        if (nodeId == 0) {
            emit SettlementSkipped(jobId, status); // never claimed: nobody to pay
            return;
        }
        if (nodeId != run.nodeId) _startRun(run, jobId, nodeId);
        if (status != JobStatus.Accepted || block.timestamp <= deadline) {
            emit SettlementSkipped(jobId, status);
            return;
        }
        // A record (a disputed job) is never Accepted here: its jury pays it.
        // slither-disable-next-line incorrect-equality (an empty word, not a balance)
        if (JobSlot.unwrap(s) == 0) revert JobMarketWrongStatus(jobId, status);
        _slots[jobId] = s.moved(JobStatus.Paid, deadline);
        run.collateral += terms.collateral;
        ++run.paid;
        _payNet(jobId, nodeId, JobMoneyLib.fromTerms(terms), s.fingerprint(), false);
    }

    /// @dev Ends the run before (if any) and starts node `nodeId`'s, checking the caller's right.
    function _startRun(SettleRun memory run, uint256 jobId, uint256 nodeId) private {
        _endRun(run);
        address owner = _ownerOf(nodeId);
        if (run.owner != address(0) && owner != run.owner) revert JobMarketOwnersDiffer(jobId, owner, run.owner);
        if (msg.sender != owner && msg.sender != _registry.operatorOf(nodeId)) {
            revert JobMarketNotNodeOwner(jobId, msg.sender);
        }
        (run.owner, run.nodeId) = (owner, nodeId);
    }

    /// @dev Releases the run's collateral (one registry call for all its jobs) and moves its node's
    ///      earnings into `run.amount`, for the caller to send in one transfer.
    function _endRun(SettleRun memory run) internal {
        if (run.paid != 0) {
            _registry.release(run.nodeId, run.collateral, INodeRegistry.Outcome.Completed, run.paid);
            (run.collateral, run.paid) = (0, 0);
        }
        // slither-disable-next-line incorrect-equality (no run yet, not a balance)
        if (run.nodeId != 0) run.amount += _drain(run.nodeId, run.owner);
    }

    // ------------------------------------------------------------------ expiry
    /// @dev The round never filled (Open, Seating) or nobody proved (Running). Round 0: the client
    ///      gets its payment back, less a keeper bounty that seized collateral and penalties pay
    ///      first. A k = 1 dispute whose jury never formed leaves the original result standing (and
    ///      paid); a later round that never formed leaves the verdict before it standing.
    function _expireUnfilled(uint256 jobId, JobRecord storage j, JobStatus status) internal {
        uint256 taken;
        if (status == JobStatus.Running) {
            taken = _releaseOrSeize(jobId, j, j.round);
        } else {
            (taken,) = _dropLateSeats(jobId, j);
            _releaseAccepted(jobId, j);
        }
        uint256 bounty = j.bounty(j.payment);
        if (j.round == 1 && j.disputer != address(0)) {
            emit DisputeResolved(jobId, true, bytes32(0));
            _returnBond(jobId, j);
            bounty = _min(taken, bounty);
            _credit(jobId, msg.sender, bounty);
            _pendingFees += taken - bounty;
            j.status = JobStatus.Paid;
            _payOriginal(jobId, _seats[jobId][0].nodeId, j.money(), j.commitment, false);
        } else if (j.round != 0) {
            _standing(jobId, j, taken, true);
        } else {
            emit JobExpired(jobId, status);
            j.status = JobStatus.Expired;
            uint256 fromTaken = _min(bounty, taken);
            _credit(jobId, msg.sender, bounty);
            _pendingFees += taken - fromTaken;
            _credit(jobId, j.client, j.payment - (bounty - fromTaken));
        }
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
    /// @dev A round that decided nothing: each of its seats holding collateral is released
    ///      without fault if it revealed, seized otherwise.
    function _releaseOrSeize(uint256 jobId, JobRecord storage j, uint8 round) private returns (uint256 seized) {
        uint256 count = j.replicaCount;
        for (uint256 i; i < count; ++i) {
            Replica storage seat = _seats[jobId][i];
            if (seat.round != round || !seat.holdsCollateral()) continue;
            if (seat.state == SeatState.Revealed) _release(seat.nodeId, j.collateral, INodeRegistry.Outcome.NoFault);
            else seized += _seize(jobId, seat.nodeId, j.collateral);
        }
    }

    /// @dev Splits `amount` (to the owners) and `fee` (to the rewards pot, as each node's work)
    ///      equally among the seats of rounds from..to that revealed `best`; dust joins the fees.
    // Eight parameters rather than a struct: a memory struct here costs 824 bytes of the market's
    // 24 KB under via-IR.
    function _payVoters(
        uint256 jobId,
        JobRecord storage j,
        uint8 from,
        uint8 to,
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
            if (!seat.agrees(from, to, best)) continue;
            _earn(jobId, seat.nodeId, each);
            _addWork(seat.nodeId, feeEach);
        }
        // slither-disable-next-line divide-before-multiply
        _pendingFees += amount - each * votes + fee - feeEach * votes;
    }

    // ------------------------------------------------------------------ node ledgers
    /// @dev Job money a node earned: its licence's owner at withdrawal time collects it, like the
    ///      node's rewards (both belong to the licence).
    function _earn(uint256 jobId, uint256 nodeId, uint256 amount) internal {
        // slither-disable-next-line incorrect-equality (nothing to credit, not a balance check)
        if (amount == 0) return;
        NodeLedger storage l = _ledgers[nodeId];
        l.earned += uint96(amount); // amount <= a job's payment (uint96); the sum is checked
        emit EarningsCredited(jobId, nodeId, amount);
    }

    /// @dev A settled job's fee, as its node's work: kept in the ledger for the epoch and pushed to
    ///      Rewards at the node's first settlement in a later epoch (or by `pushWork`), so Rewards
    ///      is paid once per node per epoch instead of once per job.
    function _addWork(uint256 nodeId, uint256 fee) internal {
        // slither-disable-next-line incorrect-equality (nothing to record, not a balance check)
        if (fee == 0) return;
        NodeLedger storage l = _ledgers[nodeId];
        uint32 epochNow = uint32(_epochNow());
        if (l.workEpoch != epochNow) {
            _pushWork(nodeId, l);
            l.workEpoch = epochNow;
        }
        l.work += uint96(fee); // fee <= a job's payment (uint96); the sum is checked
    }

    function _pushWork(uint256 nodeId, NodeLedger storage l) internal {
        uint256 amount = l.work;
        // slither-disable-next-line incorrect-equality (nothing pending, not a balance check)
        if (amount == 0) return;
        l.work = 0;
        emit WorkPushed(nodeId, l.workEpoch, amount);
        _token.safeTransfer(address(_rewards), amount);
        _rewards.recordWork(nodeId, amount);
    }

    /// @dev Sends nothing: moves node `nodeId`'s earnings out of its ledger, for the caller to send
    ///      to `owner` in one transfer.
    function _drain(uint256 nodeId, address owner) internal returns (uint256 amount) {
        NodeLedger storage l = _ledgers[nodeId];
        amount = l.earned;
        // slither-disable-next-line incorrect-equality (nothing earned, not a balance check)
        if (amount == 0) return 0;
        l.earned = 0;
        emit EarningsWithdrawn(nodeId, owner, amount);
    }

    /// @dev Rewards' `currentEpoch()`, from the same two numbers.
    function _epochNow() internal view returns (uint256) {
        if (block.timestamp < _epochGenesis) return 0;
        return (block.timestamp - _epochGenesis) / _epochLength;
    }

    // One call site per external function keeps the market under the 24 KB code limit.
    function _release(uint256 nodeId, uint256 amount, INodeRegistry.Outcome outcome) private {
        _registry.release(nodeId, amount, outcome, 1);
    }

    function _seize(uint256 jobId, uint256 nodeId, uint256 amount) internal returns (uint256 taken) {
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
        _accounts[account].credit(amount);
        emit Credited(jobId, account, amount);
    }

    function _job(uint256 jobId) internal view returns (JobRecord storage j) {
        j = _jobs[jobId];
        if (j.status == JobStatus.None) {
            // A one-slot k = 1 job has no record: no seat to accept, draw or reveal in its status.
            JobStatus slot = _slots[jobId].status();
            if (slot != JobStatus.None) revert JobMarketWrongStatus(jobId, slot);
            revert JobMarketUnknownJob(jobId);
        }
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }
}
// slither-disable-end reentrancy-no-eth,reentrancy-benign,reentrancy-events
