// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IJobMarket} from "./interfaces/IJobMarket.sol";
import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {IRewards} from "./interfaces/IRewards.sol";

/// @title JobMarket
/// @notice Escrow and lifecycle of compute jobs. See {IJobMarket} for the protocol.
contract JobMarket is IJobMarket, EIP712, Ownable2Step, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    // ------------------------------------------------------------------ constants
    uint256 public constant MAX_PROTOCOL_FEE_BPS = 1_000; // 10 %
    uint256 public constant MAX_KEEPER_BOUNTY_BPS = 500; // 5 %
    uint256 public constant MAX_REPLICAS = 15;
    uint256 public constant MAX_WINDOW = 30 days;
    uint256 private constant _BPS = 10_000;
    bytes32 public constant COMPLETION_TYPEHASH =
        keccak256("Completion(uint256 jobId,uint256 nodeId,bytes32 commitment)");

    // ------------------------------------------------------------------ storage
    /// @dev Packed job record: create writes four slots, later steps touch one or two.
    struct JobData {
        // slot 0: everything a step checks and updates
        uint96 payment;
        uint96 collateral;
        uint40 deadline;
        JobStatus status;
        uint8 k;
        uint8 round;
        // slot 1
        address client;
        uint16 cpuCores;
        uint32 memoryMb;
        uint8 gpuCount;
        uint32 gpuMemoryMb;
        uint8 gpuClass;
        // slot 2
        bytes32 bundleHash;
        // slot 3
        uint8 claims;
        uint8 commits;
        uint8 reveals;
        uint8 replicaCount;
        uint32 claimWindow;
        uint32 executionWindow;
        uint32 revealWindow;
        uint32 disputeWindow;
        // slot 4, written when a result is proven or accepted
        bytes32 resultHash;
        // slot 5, written by a dispute
        address disputer;
    }

    IERC20 private immutable _token;
    INodeRegistry private immutable _registry;
    IRewards private immutable _rewards;

    Parameters private _params;
    uint256 private _jobCount;
    uint256 private _pendingFees;
    // Both are written through storage pointers (`JobData storage j = _jobs[id]`), which slither's
    // uninitialized-state detector does not follow.
    // slither-disable-next-line uninitialized-state
    mapping(uint256 jobId => JobData) private _jobs;
    // slither-disable-next-line uninitialized-state
    mapping(uint256 jobId => mapping(uint256 index => Replica)) private _replicas;
    mapping(address account => uint256) private _credited;

    // ------------------------------------------------------------------ constructor
    constructor(address owner_, IERC20 token_, INodeRegistry registry_, IRewards rewards_, Parameters memory params_)
        EIP712("TES JobMarket", "1")
        Ownable(owner_)
    {
        _token = token_;
        _registry = registry_;
        _rewards = rewards_;
        _setParameters(params_);
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
        // A permit can be front-run by anyone who saw it in the mempool; the allowance it set is
        // then already in place, so a failed permit is only fatal if transferFrom fails too.
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), request.payment, permitDeadline, v, r, s) {}
            catch {}
        jobId = _create(request);
    }

    /// @inheritdoc IJobMarket
    function cancel(uint256 jobId) external nonReentrant {
        JobData storage j = _job(jobId);
        if (j.client != msg.sender) revert JobMarketNotClient(jobId, msg.sender);
        if (j.status != JobStatus.Open || j.round != 0 || j.claims != 0) revert JobMarketWrongStatus(jobId, j.status);
        j.status = JobStatus.Cancelled;
        emit JobCancelled(jobId);
        _credit(jobId, msg.sender, j.payment);
    }

    /// @inheritdoc IJobMarket
    function dispute(uint256 jobId) external nonReentrant {
        JobData storage j = _job(jobId);
        if (j.status != JobStatus.Accepted || j.round != 0) revert JobMarketNotDisputable(jobId);
        if (block.timestamp > j.deadline) revert JobMarketDeadlinePassed(jobId, j.deadline);
        uint96 bond = j.collateral;
        // A free dispute would let anyone stall payment for a whole re-run at no cost.
        if (bond == 0) revert JobMarketNotDisputable(jobId);
        j.disputer = msg.sender;
        j.round = 1;
        j.k = _params.disputeReplicas;
        j.claims = 0;
        j.commits = 0;
        j.reveals = 0;
        j.status = JobStatus.Open;
        j.deadline = _deadline(j.claimWindow);
        emit JobDisputed(jobId, msg.sender, bond);
        _token.safeTransferFrom(msg.sender, address(this), bond);
        emit BondPosted(jobId, msg.sender, bond);
    }

    // ------------------------------------------------------------------ node operators
    /// @inheritdoc IJobMarket
    function claim(uint256 jobId, uint256 nodeId) external nonReentrant whenNotPaused {
        JobData storage j = _job(jobId);
        if (j.status != JobStatus.Open) revert JobMarketWrongStatus(jobId, j.status);
        if (block.timestamp > j.deadline) revert JobMarketDeadlinePassed(jobId, j.deadline);
        uint256 count = j.replicaCount;
        // One replica per node and per operator key across both rounds, so one machine cannot
        // fill a quorum alone or re-run the job it is accused over. k is at most 15 + 15.
        for (uint256 i; i < count; ++i) {
            Replica storage other = _replicas[jobId][i];
            if (other.nodeId == nodeId) revert JobMarketAlreadyClaimed(jobId, nodeId);
            if (other.operator == msg.sender) revert JobMarketOperatorAlreadyClaimed(jobId, msg.sender);
        }
        _registry.lockForClaim(nodeId, msg.sender, _requirements(j), j.collateral);

        // Field by field: a struct literal would also write the (still empty) commitment slot.
        Replica storage rep = _replicas[jobId][count];
        rep.nodeId = nodeId.toUint64();
        rep.state = ReplicaState.Claimed;
        rep.round = j.round;
        rep.operator = msg.sender;
        j.replicaCount = uint8(count + 1);
        uint8 claims = j.claims + 1;
        j.claims = claims;
        emit JobClaimed(jobId, nodeId, msg.sender, j.round);
        if (claims == j.k) {
            j.status = JobStatus.Running;
            j.deadline = _deadline(j.executionWindow);
            emit JobRunning(jobId, j.round, j.deadline);
        }
    }

    /// @inheritdoc IJobMarket
    function submitProofs(Proof[] calldata proofs) external nonReentrant {
        bytes32 typehash = COMPLETION_TYPEHASH;
        for (uint256 p; p < proofs.length; ++p) {
            Proof calldata proof = proofs[p];
            uint256 jobId = proof.jobId;
            JobData storage j = _job(jobId);
            if (j.status != JobStatus.Running) revert JobMarketWrongStatus(jobId, j.status);
            if (block.timestamp > j.deadline) revert JobMarketDeadlinePassed(jobId, j.deadline);
            (Replica storage rep,) = _replicaOf(jobId, proof.nodeId, j.replicaCount);
            if (rep.state != ReplicaState.Claimed || rep.round != j.round) {
                revert JobMarketWrongReplicaState(jobId, proof.nodeId, rep.state);
            }
            bytes32 digest =
                _hashTypedDataV4(keccak256(abi.encode(typehash, jobId, proof.nodeId, proof.commitment)));
            // The third value only details why a malformed signature failed; it is rejected either way.
            // slither-disable-next-line unused-return
            (address signer, ECDSA.RecoverError recoverError,) = ECDSA.tryRecover(digest, proof.signature);
            if (recoverError != ECDSA.RecoverError.NoError || signer != rep.operator) {
                revert JobMarketInvalidSignature(jobId, proof.nodeId, signer, rep.operator);
            }
            rep.state = ReplicaState.Committed;
            emit ProofAccepted(jobId, proof.nodeId, proof.commitment, msg.sender);

            if (j.round == 0 && j.k == 1) {
                // Optimistic mode: the proof carries the result; it stands unless disputed in time.
                j.resultHash = proof.commitment;
                j.commits = 1;
                j.status = JobStatus.Accepted;
                j.deadline = _deadline(j.disputeWindow);
                emit ResultAccepted(jobId, proof.commitment, j.deadline);
            } else {
                rep.commitment = proof.commitment;
                uint8 commits = j.commits + 1;
                j.commits = commits;
                if (commits == j.k) {
                    j.status = JobStatus.Revealing;
                    j.deadline = _deadline(j.revealWindow);
                    emit RevealPhaseStarted(jobId, j.round, j.deadline);
                }
            }
        }
    }

    /// @inheritdoc IJobMarket
    function reveal(Reveal[] calldata reveals) external nonReentrant {
        for (uint256 i; i < reveals.length; ++i) {
            Reveal calldata rv = reveals[i];
            JobData storage j = _job(rv.jobId);
            if (j.status != JobStatus.Revealing) revert JobMarketWrongStatus(rv.jobId, j.status);
            if (block.timestamp > j.deadline) revert JobMarketDeadlinePassed(rv.jobId, j.deadline);
            (Replica storage rep,) = _replicaOf(rv.jobId, rv.nodeId, j.replicaCount);
            if (rep.state != ReplicaState.Committed || rep.round != j.round) {
                revert JobMarketWrongReplicaState(rv.jobId, rv.nodeId, rep.state);
            }
            if (commitmentOf(rv.jobId, rv.nodeId, rv.resultHash, rv.salt) != rep.commitment) {
                revert JobMarketCommitmentMismatch(rv.jobId, rv.nodeId);
            }
            rep.state = ReplicaState.Revealed;
            rep.commitment = rv.resultHash;
            uint8 revealed = j.reveals + 1;
            j.reveals = revealed;
            emit ResultRevealed(rv.jobId, rv.nodeId, rv.resultHash);
            if (revealed == j.k) _settleRound(rv.jobId, j, false);
        }
    }

    // ------------------------------------------------------------------ keepers
    /// @inheritdoc IJobMarket
    function finalize(uint256 jobId) external nonReentrant {
        JobData storage j = _job(jobId);
        if (j.status != JobStatus.Accepted) revert JobMarketWrongStatus(jobId, j.status);
        if (block.timestamp <= j.deadline) revert JobMarketDeadlineNotReached(jobId, j.deadline);
        _payOriginal(jobId, j, true);
    }

    /// @inheritdoc IJobMarket
    function expire(uint256 jobId) external nonReentrant {
        JobData storage j = _job(jobId);
        JobStatus status = j.status;
        if (status != JobStatus.Open && status != JobStatus.Running && status != JobStatus.Revealing) {
            revert JobMarketWrongStatus(jobId, status);
        }
        if (block.timestamp <= j.deadline) revert JobMarketDeadlineNotReached(jobId, j.deadline);
        if (status == JobStatus.Revealing) {
            _settleRound(jobId, j, true);
            return;
        }
        // Open: the claims never filled, nobody is at fault. Running: whoever has not proven loses
        // its collateral; the others did their part.
        uint256 seized = _releaseOrSeize(
            jobId,
            j.round,
            j.replicaCount,
            j.collateral,
            status == JobStatus.Open ? ReplicaState.Claimed : ReplicaState.Committed,
            false,
            bytes32(0),
            INodeRegistry.Outcome.NoFault
        );
        emit JobExpired(jobId, status);
        if (j.round == 0) {
            j.status = JobStatus.Expired;
            // The bounty comes out of the no-shows' collateral when there is enough, else the refund.
            uint256 bounty = _keeperBounty(j.payment);
            _credit(jobId, msg.sender, bounty);
            _credit(jobId, j.client, j.payment + seized - bounty);
        } else {
            // The dispute could not be re-run: the original result stands and the bond goes back.
            _pendingFees += seized;
            emit DisputeResolved(jobId, true, bytes32(0));
            _credit(jobId, j.disputer, j.collateral);
            _payOriginal(jobId, j, true);
        }
    }

    /// @inheritdoc IJobMarket
    function withdraw() external nonReentrant returns (uint256 amount) {
        amount = _credited[msg.sender];
        if (amount == 0) revert JobMarketNothingToWithdraw(msg.sender);
        _credited[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
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
    function job(uint256 jobId) external view returns (Job memory out) {
        JobData storage j = _jobs[jobId];
        out = Job({
            payment: j.payment,
            collateral: j.collateral,
            deadline: j.deadline,
            status: j.status,
            k: j.k,
            round: j.round,
            client: j.client,
            requirements: _requirements(j),
            bundleHash: j.bundleHash,
            claims: j.claims,
            commits: j.commits,
            reveals: j.reveals,
            replicaCount: j.replicaCount,
            claimWindow: j.claimWindow,
            executionWindow: j.executionWindow,
            revealWindow: j.revealWindow,
            disputeWindow: j.disputeWindow,
            resultHash: j.resultHash,
            disputer: j.disputer
        });
    }

    /// @inheritdoc IJobMarket
    function replica(uint256 jobId, uint256 index) external view returns (Replica memory) {
        return _replicas[jobId][index];
    }

    /// @inheritdoc IJobMarket
    function replicaOf(uint256 jobId, uint256 nodeId) external view returns (Replica memory rep, uint256 index) {
        Replica storage r;
        (r, index) = _replicaOf(jobId, nodeId, _jobs[jobId].replicaCount);
        rep = r;
    }

    /// @inheritdoc IJobMarket
    function jobCount() external view returns (uint256) {
        return _jobCount;
    }

    /// @inheritdoc IJobMarket
    function credited(address account) external view returns (uint256) {
        return _credited[account];
    }

    /// @inheritdoc IJobMarket
    function pendingFees() external view returns (uint256) {
        return _pendingFees;
    }

    /// @inheritdoc IJobMarket
    function parameters() external view returns (Parameters memory) {
        return _params;
    }

    /// @inheritdoc IJobMarket
    function proofDigest(uint256 jobId, uint256 nodeId, bytes32 commitment) external view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(COMPLETION_TYPEHASH, jobId, nodeId, commitment)));
    }

    /// @inheritdoc IJobMarket
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
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

    /// @inheritdoc IJobMarket
    function commitmentOf(uint256 jobId, uint256 nodeId, bytes32 resultHash, bytes32 salt)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(jobId, nodeId, resultHash, salt));
    }

    // ------------------------------------------------------------------ internal: lifecycle
    function _create(JobRequest calldata q) private returns (uint256 jobId) {
        Parameters memory p = _params;
        if (q.bundleHash == bytes32(0)) revert JobMarketInvalidBundleHash();
        if (q.payment < p.minJobFee) revert JobMarketPaymentBelowMinimum(q.payment, p.minJobFee);
        uint256 minCollateral = uint256(q.payment) * p.minCollateralBps / _BPS;
        if (q.collateral < minCollateral) revert JobMarketCollateralTooLow(q.collateral, minCollateral);
        if (q.replicas == 0 || q.replicas > MAX_REPLICAS) revert JobMarketInvalidReplicas(q.replicas);
        _checkWindow("claimWindow", q.claimWindow, true);
        _checkWindow("executionWindow", q.executionWindow, true);
        // Disputes re-run with commit-reveal, so every job needs a reveal window; only k = 1 has a
        // dispute window.
        _checkWindow("revealWindow", q.revealWindow, true);
        _checkWindow("disputeWindow", q.disputeWindow, q.replicas == 1);

        jobId = ++_jobCount;
        JobData storage j = _jobs[jobId];
        j.payment = q.payment;
        j.collateral = q.collateral;
        j.deadline = _deadline(q.claimWindow);
        j.status = JobStatus.Open;
        j.k = q.replicas;
        j.client = msg.sender;
        j.cpuCores = q.requirements.cpuCores;
        j.memoryMb = q.requirements.memoryMb;
        j.gpuCount = q.requirements.gpuCount;
        j.gpuMemoryMb = q.requirements.gpuMemoryMb;
        j.gpuClass = q.requirements.gpuClass;
        j.bundleHash = q.bundleHash;
        j.claimWindow = q.claimWindow;
        j.executionWindow = q.executionWindow;
        j.revealWindow = q.revealWindow;
        j.disputeWindow = q.disputeWindow;
        emit JobCreated(jobId, msg.sender, q.bundleHash, q.bundleUri, q.payment, q.collateral, q.replicas, j.deadline);

        _token.safeTransferFrom(msg.sender, address(this), q.payment);
        emit PaymentEscrowed(jobId, msg.sender, q.payment);
    }

    /// @dev Called when every replica of the current round has revealed, or the reveal deadline
    ///      passed. A result needs more than half of the round's k replicas. Only a keeper
    ///      (`expire` after the deadline) earns a bounty: the replica whose reveal completes the
    ///      round is doing its own job, and must not win back part of a dissenter's collateral.
    // Calls go only to the registry and rewards contracts fixed at construction, and every entry
    // point that reaches here holds the nonReentrant guard.
    // slither-disable-next-line reentrancy-no-eth
    function _settleRound(uint256 jobId, JobData storage j, bool byKeeper) private {
        (bytes32 majority, uint256 votes) = _majority(jobId, j.round, j.replicaCount);
        bool quorum = votes * 2 > j.k;
        if (!quorum) majority = bytes32(0);

        // Agreeing replicas are released as completed; dissenters and no-shows are seized. Without
        // a quorum nobody can be shown wrong: revealers are released, only no-shows are seized.
        uint256 seized = _releaseOrSeize(
            jobId,
            j.round,
            j.replicaCount,
            j.collateral,
            ReplicaState.Revealed,
            quorum,
            majority,
            quorum ? INodeRegistry.Outcome.Completed : INodeRegistry.Outcome.NoFault
        );

        if (j.round == 0) {
            if (quorum) {
                j.resultHash = majority;
                j.status = JobStatus.Paid;
                uint256 fee = _fee(j.payment);
                (uint256 paid, uint256 dust) = _payAgreeing(jobId, j.round, j.replicaCount, majority, j.payment - fee, votes, true);
                uint256 bounty = byKeeper ? _min(seized, _keeperBounty(j.payment)) : 0;
                _credit(jobId, msg.sender, bounty);
                _pendingFees += fee + dust + seized - bounty;
                emit ResultAccepted(jobId, majority, block.timestamp);
                emit JobPaid(jobId, majority, paid, fee);
            } else {
                j.status = JobStatus.Failed;
                uint256 bounty = byKeeper ? _keeperBounty(j.payment) : 0;
                emit JobFailed(jobId);
                _credit(jobId, msg.sender, bounty);
                // The bounty for settling a failed job comes out of the refund unless no-shows paid for it.
                _credit(jobId, j.client, j.payment + seized - bounty);
            }
            return;
        }

        // Round 1: a dispute re-run decides who was right.
        bytes32 original = j.resultHash;
        if (!quorum || majority == original) {
            emit DisputeResolved(jobId, true, majority);
            uint256 bond = j.collateral;
            if (quorum) {
                // The disputer was wrong: the bond pays the re-run replicas.
                uint256 bounty = byKeeper ? _keeperBounty(bond) : 0;
                _credit(jobId, msg.sender, bounty);
                (, uint256 dust) = _payAgreeing(jobId, 1, j.replicaCount, majority, bond - bounty, votes, false);
                _pendingFees += dust + seized;
                _payOriginal(jobId, j, false);
            } else {
                // Inconclusive: the original result stands, the bond goes back.
                _credit(jobId, j.disputer, bond);
                _pendingFees += seized;
                _payOriginal(jobId, j, byKeeper);
            }
        } else {
            // The original node was wrong: its collateral pays the re-run, the client gets its money
            // back and the disputer its bond.
            emit DisputeResolved(jobId, false, majority);
            j.status = JobStatus.Overturned;
            j.resultHash = majority;
            (Replica storage orig,) = _originalReplica(jobId, j.replicaCount);
            uint256 taken = _registry.seize(orig.nodeId, j.collateral);
            emit CollateralSeized(jobId, orig.nodeId, taken);
            uint256 bounty = byKeeper ? _keeperBounty(taken) : 0;
            _credit(jobId, msg.sender, bounty);
            (, uint256 dust) = _payAgreeing(jobId, 1, j.replicaCount, majority, taken - bounty, votes, false);
            _pendingFees += dust + seized;
            _credit(jobId, j.disputer, j.collateral);
            _credit(jobId, j.client, j.payment);
            emit JobOverturned(jobId);
        }
    }

    /// @dev Pays the k = 1 job's original replica: payment minus fee to the licence owner,
    ///      collateral released, work recorded for rewards. A keeper's bounty comes from the fee.
    function _payOriginal(uint256 jobId, JobData storage j, bool withBounty) private {
        j.status = JobStatus.Paid;
        (Replica storage orig,) = _originalReplica(jobId, j.replicaCount);
        uint256 nodeId = orig.nodeId;
        uint256 fee = _fee(j.payment);
        uint256 net = j.payment - fee;
        uint256 bounty = withBounty ? _keeperBounty(j.payment) : 0;
        if (bounty > fee) bounty = fee;
        _registry.release(nodeId, j.collateral, INodeRegistry.Outcome.Completed);
        _rewards.recordWork(nodeId, net);
        _credit(jobId, _registry.ownerOfNode(nodeId), net);
        if (bounty > 0) _credit(jobId, msg.sender, bounty);
        _pendingFees += fee - bounty;
        emit JobPaid(jobId, j.resultHash, net, fee);
    }

    /// @dev For each replica of `round`: keep it if it reached `minState` (and, when `mustAgree`,
    ///      revealed exactly `agreed`) and release its collateral counting `outcome`; otherwise
    ///      seize its collateral. Returns the total seized (now held by this contract).
    ///      `mustAgree` is separate from `agreed` because bytes32(0) is a result like any other.
    ///      Unfilled job: minState Claimed (nobody at fault). Proof deadline missed: Committed.
    ///      Settlement: Revealed, with the quorum's result (Completed) or none (NoFault).
    function _releaseOrSeize(
        uint256 jobId,
        uint8 round,
        uint256 count,
        uint96 collateral,
        ReplicaState minState,
        bool mustAgree,
        bytes32 agreed,
        INodeRegistry.Outcome outcome
    ) private returns (uint256 seized) {
        for (uint256 i; i < count; ++i) {
            Replica storage rep = _replicas[jobId][i];
            if (rep.round != round) continue;
            bool kept = rep.state >= minState && (!mustAgree || rep.commitment == agreed);
            if (kept) {
                _registry.release(rep.nodeId, collateral, outcome);
            } else {
                uint256 taken = _registry.seize(rep.nodeId, collateral);
                seized += taken;
                emit CollateralSeized(jobId, rep.nodeId, taken);
            }
        }
    }

    /// @dev Splits `amount` equally among replicas of `round` that revealed `agreed`; returns what
    ///      was paid and the rounding dust.
    // slither-disable-next-line reentrancy-no-eth
    function _payAgreeing(
        uint256 jobId,
        uint8 round,
        uint256 count,
        bytes32 agreed,
        uint256 amount,
        uint256 votes,
        bool recordWork
    ) private returns (uint256 paid, uint256 dust) {
        uint256 each = amount / votes;
        for (uint256 i; i < count; ++i) {
            Replica storage rep = _replicas[jobId][i];
            if (rep.round != round || rep.state != ReplicaState.Revealed || rep.commitment != agreed) continue;
            if (recordWork) _rewards.recordWork(rep.nodeId, each);
            _credit(jobId, _registry.ownerOfNode(rep.nodeId), each);
            paid += each;
        }
        dust = amount - paid;
    }

    /// @dev The most-revealed result of `round` and its vote count (ties: the first seen).
    function _majority(uint256 jobId, uint8 round, uint256 count) private view returns (bytes32 best, uint256 votes) {
        for (uint256 i; i < count; ++i) {
            Replica storage a = _replicas[jobId][i];
            if (a.round != round || a.state != ReplicaState.Revealed) continue;
            uint256 n = 0;
            for (uint256 m = i; m < count; ++m) {
                Replica storage b = _replicas[jobId][m];
                if (b.round == round && b.state == ReplicaState.Revealed && b.commitment == a.commitment) ++n;
            }
            if (n > votes) (best, votes) = (a.commitment, n);
        }
    }

    // ------------------------------------------------------------------ internal: helpers
    function _job(uint256 jobId) private view returns (JobData storage j) {
        j = _jobs[jobId];
        if (j.status == JobStatus.None) revert JobMarketUnknownJob(jobId);
    }

    function _replicaOf(uint256 jobId, uint256 nodeId, uint256 count) private view returns (Replica storage, uint256) {
        for (uint256 index = 0; index < count; ++index) {
            Replica storage rep = _replicas[jobId][index];
            if (rep.nodeId == nodeId) return (rep, index);
        }
        revert JobMarketNotReplica(jobId, nodeId);
    }

    /// @dev The k = 1 job's original replica is always the first one claimed.
    function _originalReplica(uint256 jobId, uint256 count) private view returns (Replica storage rep, uint256 index) {
        if (count == 0) revert JobMarketNotReplica(jobId, 0);
        return (_replicas[jobId][0], 0);
    }

    function _requirements(JobData storage j) private view returns (INodeRegistry.Capabilities memory) {
        return INodeRegistry.Capabilities({
            cpuCores: j.cpuCores,
            memoryMb: j.memoryMb,
            gpuCount: j.gpuCount,
            gpuMemoryMb: j.gpuMemoryMb,
            gpuClass: j.gpuClass
        });
    }

    function _credit(uint256 jobId, address account, uint256 amount) private {
        if (amount == 0) return;
        _credited[account] += amount;
        emit Credited(jobId, account, amount);
    }

    function _fee(uint256 payment) private view returns (uint256) {
        return payment * _params.protocolFeeBps / _BPS;
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }

    function _keeperBounty(uint256 amount) private view returns (uint256) {
        return amount * _params.keeperBountyBps / _BPS;
    }

    function _deadline(uint32 window) private view returns (uint40) {
        return uint40(block.timestamp + window);
    }

    function _checkWindow(bytes32 name, uint256 value, bool required) private pure {
        if ((required && value == 0) || value > MAX_WINDOW) revert JobMarketInvalidWindow(name, value);
    }

    function _setParameters(Parameters memory p) private {
        if (p.protocolFeeBps > MAX_PROTOCOL_FEE_BPS) {
            revert JobMarketParameterOutOfBounds("protocolFeeBps", p.protocolFeeBps);
        }
        if (p.keeperBountyBps > MAX_KEEPER_BOUNTY_BPS) {
            revert JobMarketParameterOutOfBounds("keeperBountyBps", p.keeperBountyBps);
        }
        if (p.minCollateralBps > _BPS) revert JobMarketParameterOutOfBounds("minCollateralBps", p.minCollateralBps);
        if (p.disputeReplicas < 3 || p.disputeReplicas > MAX_REPLICAS || p.disputeReplicas % 2 == 0) {
            revert JobMarketParameterOutOfBounds("disputeReplicas", p.disputeReplicas);
        }
        if (p.minJobFee == 0) revert JobMarketParameterOutOfBounds("minJobFee", 0);
        _params = p;
        emit ParametersSet(p);
    }
}
