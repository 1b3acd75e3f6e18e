// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IJobMarket, IJobMarketTypes} from "./interfaces/IJobMarket.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {IRewards} from "./interfaces/IRewards.sol";
import {Account, AccountLib} from "./types/Account.sol";
import {JobRecord} from "./types/JobRecord.sol";
import {JobMoneyLib, JobTermsLib} from "./types/JobTerms.sol";
import {JobSlot, JobSlotLib} from "./types/JobSlot.sol";
import {Seats} from "./libraries/Seats.sol";
import {MarketProofs} from "./market/MarketProofs.sol";
import {JobMarketRounds} from "./market/JobMarketRounds.sol";
import {MarketRules} from "./libraries/MarketRules.sol";

/// @title JobMarket
/// @notice Escrow and lifecycle of compute jobs. See {IJobMarket} for the protocol and
///         {MarketProofs} for signed proof batches, {MarketSeating} for drawn seats and
///         {MarketSettlement} for who is paid what.
contract JobMarket is IJobMarket, MarketProofs, Ownable2Step, Pausable {
    using SafeERC20 for IERC20;
    using JobTermsLib for IJobMarketTypes.JobTerms;
    using Seats for IJobMarketTypes.Replica;
    using Seats for mapping(uint256 => IJobMarketTypes.Replica);
    using AccountLib for Account;

    // ------------------------------------------------------------------ constants
    uint256 public constant MAX_PROTOCOL_FEE_BPS = MarketRules.MAX_PROTOCOL_FEE_BPS;
    uint256 public constant MAX_KEEPER_BOUNTY_BPS = MarketRules.MAX_KEEPER_BOUNTY_BPS;
    uint256 public constant MAX_REPLICAS = MarketRules.MAX_REPLICAS;
    uint256 public constant MAX_WINDOW = MarketRules.MAX_WINDOW;
    /// @dev The rounds module (disputes, draws, reveals, expiry), created with the market; runs on
    ///      the market's storage by DELEGATECALL.
    address private immutable _rounds;

    // ------------------------------------------------------------------ constructor
    constructor(address owner_, IERC20 token_, INodeRegistry registry_, IRewards rewards_, Parameters memory params_)
        MarketProofs(token_, registry_, rewards_)
        Ownable(owner_)
    {
        _setParameters(params_);
        _rounds = address(new JobMarketRounds(token_, registry_, rewards_));
    }

    // ------------------------------------------------------------------ client
    /// @inheritdoc IJobMarket
    function createJob(JobRequest calldata request) external nonReentrant whenNotPaused returns (uint256 jobId) {
        jobId = _create(request);
    }

    /// @inheritdoc IJobMarket
    function createJobWithPermit(JobRequest calldata request, uint256 permitDeadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
        whenNotPaused
        returns (uint256 jobId)
    {
        _permit(request.payment, permitDeadline, v, r, s);
        jobId = _create(request);
    }

    /// @inheritdoc IJobMarket
    function createAndAssign(JobRequest calldata request, Quote calldata quote, PaymentPermit calldata permit)
        external
        nonReentrant
        whenNotPaused
        returns (uint256 jobId)
    {
        if (request.replicas != 1) revert JobMarketInvalidReplicas(request.replicas);
        if (block.timestamp > quote.expiry) revert JobMarketQuoteExpired(quote.nodeId, quote.expiry);
        if (permit.deadline != 0) _permit(request.payment, permit.deadline, permit.v, permit.r, permit.s);
        uint256 nonce = _accounts[msg.sender].quoteNonce++;
        address signer = _quoteSigner(request, nonce, quote);
        if (signer == address(0)) {
            revert JobMarketInvalidSignature(0, quote.nodeId, address(0), _registry.operatorOf(quote.nodeId));
        }
        jobId = _create(request);
        _takeSlot(jobId, _slots[jobId], quote.nodeId, signer, request.executionWindow);
        // The registry checks that the signer operates the node now and that the node can take
        // the job (active, requirements, free stake), exactly as for a claim.
        _registry.lockForClaim(quote.nodeId, signer, request.requirements, request.collateral);
    }

    /// @inheritdoc IJobMarket
    function cancel(JobTerms calldata terms) external nonReentrant {
        uint256 jobId = terms.idOf();
        JobSlot s = _slots[jobId];
        if (s.status() != JobStatus.None) {
            if (terms.client != msg.sender) revert JobMarketNotClient(jobId, msg.sender);
            if (s.status() != JobStatus.Open) revert JobMarketWrongStatus(jobId, s.status());
            _slots[jobId] = s.moved(JobStatus.Cancelled, s.time());
        } else {
            JobRecord storage j = _job(jobId);
            if (j.client != msg.sender) revert JobMarketNotClient(jobId, msg.sender);
            bool untaken = j.status == JobStatus.Open || (j.status == JobStatus.Seating && j.round == 0);
            if (!untaken || j.claims != 0) revert JobMarketWrongStatus(jobId, j.status);
            j.status = JobStatus.Cancelled;
        }
        emit JobCancelled(jobId);
        _credit(jobId, msg.sender, terms.payment);
    }

    /// @inheritdoc IJobMarket
    function dispute(JobTerms calldata terms) external nonReentrant whenNotPaused {
        // slither-disable-next-line redundant-statements (named for the ABI; the module reads it)
        terms; // read by the rounds module, from msg.data
        _inRounds();
    }

    // ------------------------------------------------------------------ node operators
    /// @inheritdoc IJobMarket
    function claim(JobTerms calldata terms, uint256 nodeId) external nonReentrant whenNotPaused {
        uint256 jobId = terms.idOf();
        JobSlot s = _slots[jobId];
        // Only a k = 1 job is claimed, and it is a slot until disputed: a record is drawn seats.
        if (s.status() == JobStatus.None) {
            JobRecord storage j = _job(jobId);
            if (j.status == JobStatus.Seating) revert JobMarketSeatsAreDrawn(jobId);
            revert JobMarketWrongStatus(jobId, j.status);
        }
        if (s.status() != JobStatus.Open) revert JobMarketWrongStatus(jobId, s.status());
        if (block.timestamp > s.time()) revert JobMarketDeadlinePassed(jobId, s.time());
        _takeSlot(jobId, s, nodeId, msg.sender, terms.executionWindow);
        // The registry checks that the caller operates the node and that the node can take the
        // job (active, requirements, free stake), and reverts the claim otherwise.
        _registry.lockForClaim(nodeId, msg.sender, terms.requirements, terms.collateral);
    }

    /// @inheritdoc IJobMarket
    function acceptSeat(uint256 jobId, uint256 nodeId) external nonReentrant whenNotPaused {
        JobRecord storage j = _job(jobId);
        if (j.status != JobStatus.Seating) revert JobMarketWrongStatus(jobId, j.status);
        if (block.timestamp > j.deadline) revert JobMarketDeadlinePassed(jobId, j.deadline);
        (Replica storage seat, bool found) = _seats[jobId].find(j.replicaCount, nodeId);
        if (!found) revert JobMarketNotReplica(jobId, nodeId);
        if (seat.state != SeatState.Drawn || seat.round != j.round) {
            revert JobMarketWrongSeatState(jobId, nodeId, seat.state);
        }
        if (block.timestamp > seat.acceptDeadline) revert JobMarketDeadlinePassed(jobId, seat.acceptDeadline);
        _lock(nodeId, j);
        seat.state = SeatState.Claimed;
        seat.operator = msg.sender;
        emit JobClaimed(jobId, nodeId, msg.sender, j.round);
        _seatTaken(jobId, j);
    }

    /// @inheritdoc IJobMarket
    function submitProofs(ProofBatch[] calldata batches) external nonReentrant {
        for (uint256 b; b < batches.length; ++b) {
            Completion[] calldata items = batches[b].items;
            // One signature per batch: the key that signed it (or sent it) must operate every
            // item's node now; consecutive items of one node ask the registry once.
            address signer = _batchSigner(batches[b]);
            uint256 checked = type(uint256).max;
            for (uint256 p; p < items.length; ++p) {
                Completion calldata item = items[p];
                if (item.nodeId != checked) {
                    _checkOperator(item, signer);
                    checked = item.nodeId;
                }
                _prove(item);
            }
        }
    }

    /// @inheritdoc IJobMarket
    function reveal(Reveal[] calldata) external nonReentrant {
        _inRounds();
    }

    // ------------------------------------------------------------------ anyone (keepers)
    /// @inheritdoc IJobMarket
    function draw(uint256) external nonReentrant whenNotPaused {
        _inRounds();
    }

    /// @inheritdoc IJobMarket
    function redraw(uint256) external nonReentrant whenNotPaused {
        _inRounds();
    }

    /// @inheritdoc IJobMarket
    function finalize(JobTerms calldata terms) external nonReentrant {
        uint256 jobId = terms.idOf();
        JobSlot s = _slots[jobId];
        // A disputed k = 1 job (a record) is settled by its jury, never finalized.
        if (s.status() == JobStatus.None) revert JobMarketWrongStatus(jobId, _job(jobId).status);
        if (s.status() != JobStatus.Accepted) revert JobMarketWrongStatus(jobId, s.status());
        if (block.timestamp <= s.time()) revert JobMarketDeadlineNotReached(jobId, s.time());
        _slots[jobId] = s.moved(JobStatus.Paid, s.time());
        _payOriginal(jobId, s.nodeId(), JobMoneyLib.fromTerms(terms), s.fingerprint(), true);
    }

    /// @inheritdoc IJobMarket
    function expire(JobTerms calldata terms) external nonReentrant {
        // slither-disable-next-line redundant-statements (named for the ABI; the module reads it)
        terms; // read by the rounds module, from msg.data
        _inRounds();
    }

    /// @inheritdoc IJobMarket
    function withdraw() external nonReentrant returns (uint256 amount) {
        Account storage a = _accounts[msg.sender];
        amount = a.credited;
        if (amount == 0) revert JobMarketNothingToWithdraw(msg.sender);
        a.credited = 0;
        emit Withdrawn(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IJobMarket
    function settleAndWithdraw(JobTerms[] calldata jobs) external nonReentrant returns (uint256 amount) {
        // A run starts empty: its node and owner are set by the first job that names a node.
        // slither-disable-next-line uninitialized-local
        SettleRun memory run;
        for (uint256 i; i < jobs.length; ++i) {
            _settleOwn(jobs[i], run);
        }
        _endRun(run);
        amount = run.amount;
        // slither-disable-next-line incorrect-equality (nothing earned, not a balance check)
        if (amount == 0) return 0;
        _token.safeTransfer(run.owner, amount);
    }

    /// @inheritdoc IJobMarket
    function withdrawEarnings(uint256[] calldata nodeIds) external nonReentrant returns (uint256 amount) {
        address owner = nodeIds.length == 0 ? address(0) : _ownerOf(nodeIds[0]);
        for (uint256 i; i < nodeIds.length; ++i) {
            uint256 nodeId = nodeIds[i];
            address nodeOwner = _ownerOf(nodeId);
            if (nodeOwner != owner) revert JobMarketOwnersDiffer(nodeId, nodeOwner, owner);
            if (msg.sender != owner && msg.sender != _registry.operatorOf(nodeId)) {
                revert JobMarketNotNodeOwner(nodeId, msg.sender);
            }
            amount += _drain(nodeId, owner);
        }
        if (amount == 0) revert JobMarketNothingToWithdraw(owner);
        _token.safeTransfer(owner, amount);
    }

    /// @inheritdoc IJobMarket
    function pushWork(uint256[] calldata nodeIds) external nonReentrant {
        for (uint256 i; i < nodeIds.length; ++i) {
            _pushWork(nodeIds[i], _ledgers[nodeIds[i]]);
        }
    }

    /// @inheritdoc IJobMarket
    function deposit(uint256 amount) external nonReentrant whenNotPaused {
        _accounts[msg.sender].credit(amount);
        emit Deposited(msg.sender, amount);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IJobMarket
    function flushFees() external nonReentrant {
        uint256 amount = _pendingFees;
        if (amount == 0) return;
        _pendingFees = 0;
        emit FeesFlushed(amount);
        _token.safeTransfer(address(_rewards), amount);
        _rewards.notifyFees(amount);
    }

    // ------------------------------------------------------------------ governance
    /// @inheritdoc IJobMarket
    function setParameters(Parameters calldata parameters_) external onlyOwner {
        _setParameters(parameters_);
    }

    /// @inheritdoc IJobMarket
    function pause() external onlyOwner {
        _pause();
    }

    /// @inheritdoc IJobMarket
    function unpause() external onlyOwner {
        _unpause();
    }

    // ------------------------------------------------------------------ views
    /// @inheritdoc IJobMarket
    function job(uint256 jobId) external view returns (Job memory) {
        JobSlot s = _slots[jobId];
        if (s.status() != JobStatus.None) return s.view_(); // no terms here: see jobOf
        return _jobs[jobId].view_();
    }

    /// @inheritdoc IJobMarket
    function jobOf(JobTerms calldata terms) external view returns (Job memory) {
        uint256 jobId = terms.idOf();
        JobSlot s = _slots[jobId];
        if (s.status() != JobStatus.None) return s.viewWith(terms);
        return _job(jobId).view_();
    }

    /// @inheritdoc IJobMarket
    function replica(uint256 jobId, uint256 index) external view returns (Replica memory r) {
        JobSlot s = _slots[jobId];
        if (s.status() != JobStatus.None) return index == 0 ? s.seat() : r;
        return _seats[jobId][index];
    }

    /// @inheritdoc IJobMarket
    function jobNonce(address client) external view returns (uint256) {
        return _accounts[client].jobNonce;
    }

    /// @inheritdoc IJobMarket
    function jobIdOf(JobTerms calldata terms) external pure returns (uint256) {
        return terms.idOf();
    }

    /// @inheritdoc IJobMarket
    function credited(address account) external view returns (uint256) {
        return _accounts[account].credited;
    }

    /// @inheritdoc IJobMarket
    function ledger(uint256 nodeId) external view returns (NodeLedger memory) {
        return _ledgers[nodeId];
    }

    /// @inheritdoc IJobMarket
    function quoteNonce(address client) external view returns (uint256) {
        return _accounts[client].quoteNonce;
    }

    /// @inheritdoc IJobMarket
    function pendingFees() external view returns (uint256) {
        return _pendingFees;
    }

    /// @inheritdoc IJobMarket
    function rounds() external view returns (address) {
        return _rounds;
    }

    /// @inheritdoc IJobMarket
    function parameters() external view returns (Parameters memory) {
        return _params;
    }

    function token() external view returns (address) {
        return address(_token);
    }

    function registry() external view returns (address) {
        return address(_registry);
    }

    function rewards() external view returns (address) {
        return address(_rewards);
    }

    // ------------------------------------------------------------------ internal: lifecycle
    function _create(JobRequest calldata q) private returns (uint256 jobId) {
        MarketRules.checkRequest(q, _params);
        Account storage a = _accounts[msg.sender];
        JobTerms memory t = JobTermsLib.fromRequest(q, msg.sender, _deadline(q.claimWindow), _params, a.jobNonce++);
        jobId = t.id(); // unique: the terms hold the client and its job nonce
        emit JobCreated(
            jobId, msg.sender, q.bundleHash, q.bundleUri, q.payment, q.collateral, q.replicas, t.claimDeadline,
            t.protocolFeeBps, t.keeperBountyBps, q.requirements, q.claimWindow, q.executionWindow, q.revealWindow,
            q.disputeWindow, t.nonce
        );
        if (q.replicas == 1) {
            // One word: the terms are the id's preimage, passed back by whoever needs them.
            _slots[jobId] = JobSlotLib.create(JobStatus.Open, t.claimDeadline, 0, q.disputeWindow);
        } else {
            _store(jobId, t);
        }
        // A balance that covers the payment pays it: a client that deposited once, or reuses a
        // refund, needs no allowance and no token transfer per job.
        uint256 balance = a.credited;
        if (balance >= q.payment) a.credited = uint128(balance - q.payment);
        else _token.safeTransferFrom(msg.sender, address(this), q.payment);
    }

    /// @dev A replicated job keeps its whole record: its seats, rounds and reveals read it at every
    ///      step.
    function _store(uint256 jobId, JobTerms memory t) private {
        JobRecord storage j = _jobs[jobId];
        j.setTerms(t);
        (j.deadline, j.status) = (t.claimDeadline, JobStatus.Seating);
        _anchor(jobId, j);
    }

    function _permit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) private {
        // A permit can be front-run by anyone who saw it in the mempool; the allowance it set is
        // then already in place, so a failed permit is only fatal if transferFrom fails too.
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
    }

    /// @dev A k = 1 job taken by `operator` for `nodeId` (collateral already locked): it runs.
    function _takeSlot(uint256 jobId, JobSlot s, uint256 nodeId, address operator, uint32 executionWindow) private {
        uint40 deadline = _deadline(executionWindow);
        _slots[jobId] = s.taken(nodeId, deadline);
        emit JobClaimed(jobId, nodeId, operator, 0);
        emit JobRunning(jobId, 0, deadline);
    }

    /// @dev A seat was claimed or accepted: once the round's seats are all taken, it runs.
    function _seatTaken(uint256 jobId, JobRecord storage j) private {
        uint8 claims = j.claims + 1;
        j.claims = claims;
        if (claims == j.k) {
            j.status = JobStatus.Running;
            j.deadline = _deadline(j.executionWindow);
            emit JobRunning(jobId, j.round, j.deadline);
        }
    }

    /// @dev Runs the called entry point in the rounds module, on this market's storage, and
    ///      passes a revert through unchanged.
    function _inRounds() private {
        // slither-disable-next-line unused-return (the rounds entry points return nothing)
        Address.functionDelegateCall(_rounds, msg.data);
    }

    function _setParameters(Parameters memory p) private {
        MarketRules.checkParameters(p);
        _params = p;
        emit ParametersSet(p);
    }

    function _deadline(uint32 window) private view returns (uint40) {
        return uint40(block.timestamp + window);
    }
}
