// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {INodeRegistry} from "./INodeRegistry.sol";

/// @title Job market and escrow
/// @notice Clients escrow TES for a job; k node replicas claim it (locking collateral from their
///         stake), run it off-chain and post completion proofs: EIP-712 signatures by each node's
///         operator that anyone may relay, many per transaction.
///         - k = 1 (optimistic): the proof carries the result hash. The job is Accepted and pays out
///           after a dispute window. Anyone may dispute inside the window by posting a bond equal to
///           the job's collateral; `disputeReplicas` fresh nodes then re-run the job with
///           commit-reveal, and whoever their majority proves wrong pays.
///         - k >= 2 (replicated): proofs carry commitments keccak256(jobId, nodeId, resultHash, salt);
///           after all k commit, replicas reveal. A result revealed by more than k/2 replicas is
///           accepted and paid at once; dissenters and no-shows lose their collateral.
///         Every state with a deadline can be moved on by anyone once it has passed, for a bounty.
///         Money is credited, never pushed: clients, node owners and keepers `withdraw`.
/// @dev    Invariant (escrow): the market's TES balance equals the sum of payments of unsettled jobs
///         plus held dispute bonds plus pending protocol fees plus credited, unwithdrawn balances.
///         Locked collateral stays in the registry as a lien on stake until it is seized.
interface IJobMarket {
    enum JobStatus {
        None,
        Open, // waiting for claims (round 0: k replicas; round 1: fresh dispute replicas)
        Running, // all replicas claimed; waiting for proofs
        Revealing, // all commitments in; waiting for reveals
        Accepted, // k = 1 result proven; dispute window running
        Paid, // settled: replicas paid
        Cancelled, // withdrawn by the client before any claim
        Expired, // a deadline passed without enough claims or proofs; client refunded
        Failed, // no result reached a quorum; client refunded
        Overturned // a dispute proved the k = 1 result wrong; client refunded
    }

    enum ReplicaState {
        None,
        Claimed,
        Committed, // proof posted (k = 1: with the result itself)
        Revealed
    }

    /// @notice What a client asks for when creating a job.
    struct JobRequest {
        bytes32 bundleHash; // sha256/keccak content hash of the job bundle (see docs/bundle.md)
        string bundleUri; // where nodes fetch the bundle (file://, http(s)://); only emitted
        INodeRegistry.Capabilities requirements;
        uint96 payment; // TES escrowed, paid to the replicas that agree (minus the protocol fee)
        uint96 collateral; // TES each replica locks from its stake
        uint8 replicas; // k
        uint32 claimWindow; // seconds to gather the claims
        uint32 executionWindow; // seconds from the last claim to the last proof
        uint32 revealWindow; // k >= 2 and disputes: seconds from the last commitment to reveals
        uint32 disputeWindow; // k = 1: seconds after the proof in which a dispute may be raised
    }

    struct Job {
        uint96 payment;
        uint96 collateral;
        uint40 deadline; // of the current status
        JobStatus status;
        uint8 k; // replicas needed in the current round
        uint8 round; // 0 = original run, 1 = dispute re-run
        address client;
        INodeRegistry.Capabilities requirements;
        bytes32 bundleHash;
        uint8 claims; // replicas claimed in the current round
        uint8 commits;
        uint8 reveals;
        uint8 replicaCount; // all replicas ever, both rounds
        uint32 claimWindow;
        uint32 executionWindow;
        uint32 revealWindow;
        uint32 disputeWindow;
        bytes32 resultHash; // the accepted (or, k = 1, the proven) result
        address disputer;
    }

    struct Replica {
        uint64 nodeId;
        ReplicaState state;
        uint8 round;
        address operator;
        bytes32 commitment; // after reveal: the revealed result hash
    }

    /// @notice An operator's signed statement that `nodeId` finished `jobId` with `commitment`.
    struct Proof {
        uint256 jobId;
        uint256 nodeId;
        bytes32 commitment; // k = 1 (round 0): the result hash; otherwise commitmentOf(...)
        bytes signature; // EIP-712 over Completion(jobId, nodeId, commitment) by the node's operator
    }

    struct Reveal {
        uint256 jobId;
        uint256 nodeId;
        bytes32 resultHash;
        bytes32 salt;
    }

    struct Parameters {
        uint16 protocolFeeBps; // <= MAX_PROTOCOL_FEE_BPS
        uint16 keeperBountyBps; // <= MAX_KEEPER_BOUNTY_BPS, of the amount a keeper call moves
        uint16 minCollateralBps; // collateral >= payment * bps
        uint8 disputeReplicas; // fresh replicas that re-run a disputed job (odd, 3..15)
        uint96 minJobFee; // smallest payment accepted
    }

    // ------------------------------------------------------------------ errors
    error JobMarketUnknownJob(uint256 jobId);
    error JobMarketWrongStatus(uint256 jobId, JobStatus status);
    error JobMarketNotClient(uint256 jobId, address caller);
    error JobMarketPaymentBelowMinimum(uint256 payment, uint256 minimum);
    error JobMarketCollateralTooLow(uint256 collateral, uint256 minimum);
    error JobMarketInvalidReplicas(uint256 replicas);
    error JobMarketInvalidWindow(bytes32 name, uint256 value);
    error JobMarketInvalidBundleHash();
    error JobMarketDeadlinePassed(uint256 jobId, uint256 deadline);
    error JobMarketDeadlineNotReached(uint256 jobId, uint256 deadline);
    error JobMarketAlreadyClaimed(uint256 jobId, uint256 nodeId);
    error JobMarketOperatorAlreadyClaimed(uint256 jobId, address operator);
    error JobMarketNotReplica(uint256 jobId, uint256 nodeId);
    error JobMarketWrongReplicaState(uint256 jobId, uint256 nodeId, ReplicaState state);
    error JobMarketInvalidSignature(uint256 jobId, uint256 nodeId, address signer, address operator);
    error JobMarketCommitmentMismatch(uint256 jobId, uint256 nodeId);
    error JobMarketNotDisputable(uint256 jobId);
    error JobMarketNothingToWithdraw(address account);
    error JobMarketParameterOutOfBounds(bytes32 name, uint256 value);

    // ------------------------------------------------------------------ events
    event JobCreated(
        uint256 indexed jobId,
        address indexed client,
        bytes32 indexed bundleHash,
        string bundleUri,
        uint256 payment,
        uint256 collateral,
        uint256 replicas,
        uint256 claimDeadline
    );
    event JobCancelled(uint256 indexed jobId);
    event JobClaimed(uint256 indexed jobId, uint256 indexed nodeId, address indexed operator, uint256 round);
    event JobRunning(uint256 indexed jobId, uint256 round, uint256 deadline);
    event ProofAccepted(uint256 indexed jobId, uint256 indexed nodeId, bytes32 commitment, address relayer);
    event RevealPhaseStarted(uint256 indexed jobId, uint256 round, uint256 deadline);
    event ResultRevealed(uint256 indexed jobId, uint256 indexed nodeId, bytes32 resultHash);
    event ResultAccepted(uint256 indexed jobId, bytes32 resultHash, uint256 disputeDeadline);
    event JobDisputed(uint256 indexed jobId, address indexed disputer, uint256 bond);
    event DisputeResolved(uint256 indexed jobId, bool resultUpheld, bytes32 majorityResult);
    event JobPaid(uint256 indexed jobId, bytes32 resultHash, uint256 paidToNodes, uint256 protocolFee);
    event JobExpired(uint256 indexed jobId, JobStatus fromStatus);
    event JobFailed(uint256 indexed jobId);
    event JobOverturned(uint256 indexed jobId);
    /// @notice Escrow movements, each with the job it belongs to (jobId 0 = none).
    event PaymentEscrowed(uint256 indexed jobId, address indexed from, uint256 amount);
    event Credited(uint256 indexed jobId, address indexed account, uint256 amount);
    event CollateralSeized(uint256 indexed jobId, uint256 indexed nodeId, uint256 amount);
    event BondPosted(uint256 indexed jobId, address indexed disputer, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);
    event FeesFlushed(uint256 amount);
    event ParametersSet(Parameters parameters);

    // ------------------------------------------------------------------ client
    /// @notice Escrows `request.payment` from the caller (needs a prior approve) and opens the job.
    function createJob(JobRequest calldata request) external returns (uint256 jobId);

    /// @notice Same as `createJob`, with an EIP-2612 permit instead of a prior approve. A permit
    ///         that was already used (e.g. front-run) is ignored if the allowance is in place.
    function createJobWithPermit(JobRequest calldata request, uint256 permitDeadline, uint8 v, bytes32 r, bytes32 s)
        external
        returns (uint256 jobId);

    /// @notice Client withdraws an Open job before any claim: full refund, credited.
    function cancel(uint256 jobId) external;

    /// @notice Inside a k = 1 job's dispute window, anyone may dispute by posting a bond equal to the
    ///         job's collateral (pulled with transferFrom). Fresh replicas then re-run the job.
    function dispute(uint256 jobId) external;

    // ------------------------------------------------------------------ node operators
    /// @notice The operator of `nodeId` claims a replica of `jobId`; locks the job's collateral.
    function claim(uint256 jobId, uint256 nodeId) external;

    /// @notice Relays completion proofs (anyone may send). Reverts as a whole if any proof is invalid.
    function submitProofs(Proof[] calldata proofs) external;

    /// @notice Reveals committed results (anyone may send: reveals authenticate by their commitment).
    function reveal(Reveal[] calldata reveals) external;

    // ------------------------------------------------------------------ anyone (keepers)
    /// @notice Pays an Accepted job once its dispute window has passed. Caller earns a bounty.
    function finalize(uint256 jobId) external;

    /// @notice Moves on an Open, Running or Revealing job whose deadline has passed: refunds the
    ///         client or settles on the reveals in, and slashes replicas that did not deliver.
    ///         Caller earns a bounty.
    function expire(uint256 jobId) external;

    /// @notice Sends the caller's credited balance.
    function withdraw() external returns (uint256 amount);

    /// @notice Sends accumulated protocol fees to the rewards contract. Anyone may call.
    function flushFees() external;

    // ------------------------------------------------------------------ governance
    function setParameters(Parameters calldata parameters) external;
    function pause() external;
    function unpause() external;

    // ------------------------------------------------------------------ views
    function job(uint256 jobId) external view returns (Job memory);
    function replica(uint256 jobId, uint256 index) external view returns (Replica memory);
    function replicaOf(uint256 jobId, uint256 nodeId) external view returns (Replica memory, uint256 index);
    function jobCount() external view returns (uint256);
    function credited(address account) external view returns (uint256);
    function pendingFees() external view returns (uint256);
    function parameters() external view returns (Parameters memory);
    function commitmentOf(uint256 jobId, uint256 nodeId, bytes32 resultHash, bytes32 salt) external pure returns (bytes32);
    /// @notice The EIP-712 digest an operator signs for a completion proof.
    function proofDigest(uint256 jobId, uint256 nodeId, bytes32 commitment) external view returns (bytes32);
    function domainSeparator() external view returns (bytes32);
}
