// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {INodeRegistry} from "./INodeRegistry.sol";

/// @title Job market shapes
/// @notice The enums, structs, errors and events of {IJobMarket}, apart from its functions: the
///         market's internal parts (and the rounds module it delegates to) share these without
///         having to implement every entry point.
interface IJobMarketTypes {
    enum JobStatus {
        None,
        Open, // k = 1: waiting for the first claim
        Seating, // drawn seats (k >= 3 replicas, or a dispute jury): drawing and accepting
        Running, // every seat of the round accepted; waiting for proofs
        Revealing, // commitments in; waiting for reveals
        Accepted, // k = 1 commitment proven; dispute window running
        Paid, // settled: replicas paid
        Cancelled, // withdrawn by the client before any seat was taken
        Expired, // a deadline passed without enough seats or proofs; client refunded
        Failed, // no result reached a majority of the revealed seats; client refunded
        Overturned // a dispute proved the k = 1 result wrong (or the node did not reveal); client refunded
    }

    enum SeatState {
        None,
        Drawn, // drawn, waiting for the node to accept before `acceptDeadline`
        Claimed, // accepted (or claimed, k = 1): collateral locked
        Committed, // proof posted
        Revealed, // result revealed; `commitment` now holds the result hash
        Dropped // drawn but not accepted in time: penalised and replaced
    }

    /// @notice Why a proof in a batch was skipped instead of reverting the batch.
    enum SkipReason {
        WrongStatus, // the job is not Running (already proven, settled, expired...)
        DeadlinePassed,
        WrongSeatState // the seat already committed, or is not a seat of the current round
    }

    /// @notice What a client asks for when creating a job.
    struct JobRequest {
        bytes32 bundleHash; // sha256/keccak content hash of the job bundle (see docs/bundle.md)
        string bundleUri; // where nodes fetch the bundle (file://, http(s)://); only emitted
        INodeRegistry.Capabilities requirements;
        uint96 payment; // TES escrowed, paid to the replicas that agree (minus the protocol fee)
        uint96 collateral; // TES each replica locks from its stake
        uint8 replicas; // k: 1 (open claim) or odd, 3..MAX_REPLICAS (drawn seats)
        uint32 claimWindow; // seconds to fill the seats (claim, or draw + accept)
        uint32 executionWindow; // seconds from the last seat taken to the last proof
        uint32 revealWindow; // k >= 3 and disputes: seconds from the last commitment to reveals
        uint32 disputeWindow; // k = 1: seconds after the proof in which a dispute may be raised
    }

    /// @notice Everything fixed when a job is created. `jobId = uint256(keccak256(abi.encode(terms)))`
    ///         (`jobIdOf`): the id commits to the terms, so a reader that rebuilt them from
    ///         `JobCreated` checks them against the id, and (settlement v2) the market can take them
    ///         back as calldata instead of storing them. `nonce` is the client's job nonce
    ///         (`jobNonce(client)` before the job), so two identical requests get two ids. The bundle URI is
    ///         not a term: only a hint where to fetch the bundle, whose hash is one.
    struct JobTerms {
        address client;
        bytes32 bundleHash;
        uint96 payment;
        uint96 collateral;
        uint8 replicas;
        uint40 claimDeadline;
        uint16 protocolFeeBps;
        uint16 keeperBountyBps;
        INodeRegistry.Capabilities requirements;
        uint32 claimWindow;
        uint32 executionWindow;
        uint32 revealWindow;
        uint32 disputeWindow;
        uint64 nonce;
    }

    struct Job {
        uint96 payment;
        uint96 collateral;
        uint40 deadline; // of the current status
        JobStatus status;
        uint8 k; // seats needed in the current round
        uint8 round; // 0 = original run; 1.. = a dispute jury, then escalated rounds
        address client;
        INodeRegistry.Capabilities requirements;
        // The bundle hash is not stored: it is a topic of the job's `JobCreated` event.
        uint8 claims; // seats of the current round accepted
        uint8 commits; // seats of the current round committed
        uint8 reveals; // seats of the current round revealed (the k = 1 original counts in round 1)
        uint8 replicaCount; // seats ever, both rounds, dropped ones included
        uint8 seated; // seats of the current round drawn or accepted (not dropped)
        uint8 redraws; // draws of the current round after the first
        uint16 protocolFeeBps; // fixed at creation
        uint16 keeperBountyBps; // fixed at creation
        uint32 claimWindow;
        uint32 executionWindow;
        uint32 revealWindow;
        uint32 disputeWindow;
        uint40 drawBlock; // block whose hash seeds the next draw (0: nothing to draw)
        bytes32 commitment; // k = 1: the proven commitment; in a later round: the standing verdict;
        // settled: the accepted result hash
        address disputer;
    }

    struct Replica {
        uint32 nodeId;
        SeatState state;
        uint8 round;
        uint40 acceptDeadline; // drawn seats: accept by then
        address operator; // the node's operator when the seat was taken (dedup across seats)
        bytes32 commitment; // after reveal: the revealed result hash
    }

    /// @notice A node's offer to run one k = 1 job: EIP-712 `Quote(bytes32 request,address client,
    ///         uint256 nonce,uint256 nodeId,uint256 expiry)` signed by the node's operator, where
    ///         `request` is keccak256(abi.encode(request)) and `nonce` the client's `quoteNonce`
    ///         (`quoteDigest`). The request's payment is the price and its collateral what the node
    ///         locks; the chain and the market are in the EIP-712 domain.
    struct Quote {
        uint256 nodeId;
        uint256 expiry; // not usable after this time
        bytes signature;
    }

    /// @notice An EIP-2612 permit for the payment, signed by the client (`deadline` 0: none; the
    ///         caller's balance or allowance pays).
    struct PaymentPermit {
        uint256 deadline;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// @notice One completion: `nodeId` finished `jobId` with `commitment`
    ///         (= commitmentOf(jobId, nodeId, resultHash, salt)).
    struct Completion {
        uint256 jobId;
        uint256 nodeId;
        bytes32 commitment;
    }

    /// @notice Completions of nodes one operator key runs, under one signature: EIP-712
    ///         `ProofBatch(Completion[] items)` by that key (`proofDigest`). Empty when the sender
    ///         is that key itself.
    struct ProofBatch {
        Completion[] items;
        bytes signature;
    }

    struct Reveal {
        uint256 jobId;
        uint256 nodeId;
        bytes32 resultHash;
        bytes32 salt;
    }

    /// @notice What the market owes a node (its licence, whoever owns it when paid out), in one
    ///         slot: `earned` (job payments, less fees, withdrawn by the owner) and `work` (the fees
    ///         of its jobs settled in `workEpoch`, pushed to Rewards as the node's work once per
    ///         epoch, not once per job).
    struct NodeLedger {
        uint96 earned;
        uint96 work;
        uint32 workEpoch;
    }

    struct Parameters {
        uint16 protocolFeeBps; // <= MAX_PROTOCOL_FEE_BPS; copied into each new job's terms
        uint16 keeperBountyBps; // <= MAX_KEEPER_BOUNTY_BPS, of the amount a keeper call moves; copied too
        uint16 minCollateralBps; // collateral >= payment * bps
        uint8 disputeReplicas; // jurors drawn for a dispute (odd, 3..15)
        uint96 minJobFee; // smallest payment accepted
        uint32 acceptWindow; // seconds a drawn node has to accept its seat
    }

    // ------------------------------------------------------------------ errors
    /// @notice A rounds-module entry point was called directly instead of through the market.
    error JobMarketRoundsNotDelegated();
    /// @notice The quote's `expiry` is past (`createAndAssign`).
    error JobMarketQuoteExpired(uint256 nodeId, uint256 expiry);
    /// @notice No job `jobId` exists (or the terms passed hash to `jobId`, which names no job).
    error JobMarketUnknownJob(uint256 jobId);
    /// @notice The job's current `status` does not allow the call (e.g. `claim` unless Open; `acceptSeat`,
    ///         `draw`, `redraw` unless Seating; `reveal` unless Revealing; `finalize` unless Accepted;
    ///         `cancel` once a seat is taken).
    error JobMarketWrongStatus(uint256 jobId, JobStatus status);
    /// @notice `cancel` by `caller`, who is not the job's client.
    error JobMarketNotClient(uint256 jobId, address caller);
    /// @notice The request's `payment` is below `minimum` (the `minJobFee` parameter).
    error JobMarketPaymentBelowMinimum(uint256 payment, uint256 minimum);
    /// @notice The request's `collateral` is below `minimum` (payment * `minCollateralBps` / 10,000).
    error JobMarketCollateralTooLow(uint256 collateral, uint256 minimum);
    /// @notice The request's `replicas` is not 1 or an odd number from 3 to MAX_REPLICAS.
    error JobMarketInvalidReplicas(uint256 replicas);
    /// @notice Window `name` of the request is `value` seconds: 0 where required (claim, execution and reveal
    ///         windows, and the dispute window of k = 1) or above MAX_WINDOW.
    error JobMarketInvalidWindow(bytes32 name, uint256 value);
    /// @notice The request's bundle hash is zero.
    error JobMarketInvalidBundleHash();
    /// @notice Too late: the job's `deadline` (or the drawn seat's accept deadline) has passed.
    error JobMarketDeadlinePassed(uint256 jobId, uint256 deadline);
    /// @notice `finalize` or `expire` before the job's `deadline` has passed.
    error JobMarketDeadlineNotReached(uint256 jobId, uint256 deadline);
    /// @notice `nodeId` holds no seat of the job (dropped seats do not count).
    error JobMarketNotReplica(uint256 jobId, uint256 nodeId);
    /// @notice The node's seat is in `state` or of another round: `acceptSeat` needs a Drawn seat of the
    ///         current round, `reveal` a Committed one.
    error JobMarketWrongSeatState(uint256 jobId, uint256 nodeId, SeatState state);
    /// @notice A proof's signature recovers to `signer` (zero if malformed), not to the node's current
    ///         `operator`.
    error JobMarketInvalidSignature(uint256 jobId, uint256 nodeId, address signer, address operator);
    /// @notice A reveal's `commitmentOf(jobId, nodeId, resultHash, salt)` differs from the seat's commitment.
    error JobMarketCommitmentMismatch(uint256 jobId, uint256 nodeId);
    /// @notice `dispute` of a job that is not Accepted or has no collateral to bond, or by the operator or
    ///         owner of the job's node.
    error JobMarketNotDisputable(uint256 jobId);
    /// @notice `withdraw` with nothing credited to `account`.
    error JobMarketNothingToWithdraw(address account);
    /// @notice `settleAndWithdraw`: the caller is neither the owner nor the operator of the job's node
    ///         (`withdrawEarnings`: of node `jobId`).
    error JobMarketNotNodeOwner(uint256 jobId, address caller);
    /// @notice `settleAndWithdraw`: the jobs' nodes belong to different owners (one payout per call);
    ///         `withdrawEarnings`: the nodes belong to different owners (`jobId` is then a node id).
    error JobMarketOwnersDiffer(uint256 jobId, address owner, address expected);
    /// @notice Governance parameter `name` is out of its bounds (see `Parameters`); `value` was given.
    error JobMarketParameterOutOfBounds(bytes32 name, uint256 value);
    /// @notice The job's seats are drawn, not claimed (k >= 3, and every dispute jury).
    error JobMarketSeatsAreDrawn(uint256 jobId);
    /// @notice Nothing to draw now: seats full, no draw anchored, or the anchor block is not past.
    error JobMarketNothingToDraw(uint256 jobId, uint256 drawBlock);
    /// @notice No drawn seat of the job has missed its accept deadline.
    error JobMarketNothingToRedraw(uint256 jobId);

    // ------------------------------------------------------------------ events
    /// @notice A job was created and `payment` escrowed: Open for a claim (k = 1) or Seating with a draw
    ///         anchored (k >= 3). Seats must be filled by `claimDeadline`; fee and bounty rates are the
    ///         job's for life. Every term of the job is here, so a node or client can build the job
    ///         from this event alone (settlement v2); the bundle hash and URI are only published here.
    ///         `jobId` is the hash of the terms the event carries (`JobTerms`, `jobIdOf`).
    event JobCreated(
        uint256 indexed jobId,
        address indexed client,
        bytes32 indexed bundleHash,
        string bundleUri,
        uint256 payment,
        uint256 collateral,
        uint256 replicas,
        uint256 claimDeadline,
        uint256 protocolFeeBps,
        uint256 keeperBountyBps,
        INodeRegistry.Capabilities requirements,
        uint256 claimWindow,
        uint256 executionWindow,
        uint256 revealWindow,
        uint256 disputeWindow,
        uint256 nonce
    );
    /// @notice The client cancelled the job before any seat was taken; its payment was credited back.
    event JobCancelled(uint256 indexed jobId);
    /// @notice A seat was taken: claimed (k = 1) or a drawn seat accepted; collateral locked.
    event JobClaimed(uint256 indexed jobId, uint256 indexed nodeId, address indexed operator, uint256 round);
    /// @notice The next draw of `round` will use the hash of block `drawBlock` (callable after it).
    event DrawAnchored(uint256 indexed jobId, uint256 round, uint256 drawBlock);
    /// @notice `nodeId` was drawn for a seat of `round` and must accept before `acceptDeadline`.
    event SeatDrawn(uint256 indexed jobId, uint256 indexed nodeId, uint256 round, uint256 acceptDeadline);
    /// @notice `nodeId` did not accept its drawn seat in time and paid `penalty`.
    event SeatDropped(uint256 indexed jobId, uint256 indexed nodeId, uint256 penalty);
    /// @notice A draw weight changed after the anchor block (block `weightChanged`), so its hash can
    ///         no longer seed a fair draw: re-anchored while the redraw budget lasts.
    event DrawStale(uint256 indexed jobId, uint256 drawBlock, uint256 weightChanged);
    /// @notice A draw found no eligible node for `missing` seats.
    event SeatsUnfilled(uint256 indexed jobId, uint256 round, uint256 missing);
    /// @notice A proof of a batch was stale and skipped; the rest of the batch went through.
    event ProofSkipped(uint256 indexed jobId, uint256 indexed nodeId, SkipReason reason);
    /// @notice Every seat of `round` is taken; proofs are due by `deadline`.
    event JobRunning(uint256 indexed jobId, uint256 round, uint256 deadline);
    /// @notice `nodeId`'s seat committed `commitment`; `relayer` sent the proof. A seat of a drawn
    ///         round (k >= 3, a jury); a k = 1 job's proof emits `ResultAccepted` alone.
    event ProofAccepted(uint256 indexed jobId, uint256 indexed nodeId, bytes32 commitment, address relayer);
    /// @notice `round`'s commitments are in (or its proof deadline passed); reveals are due by `deadline`.
    event RevealPhaseStarted(uint256 indexed jobId, uint256 round, uint256 deadline);
    /// @notice `nodeId` revealed `resultHash`, matching its commitment.
    event ResultRevealed(uint256 indexed jobId, uint256 indexed nodeId, bytes32 resultHash);
    /// @notice k = 1: the job's node proved `commitment` (the transaction's sender relayed it), and
    ///         it is disputable until `disputeDeadline`; the only event of a k = 1 proof (one event
    ///         less per job than a seat's `ProofAccepted` as well: the job has one node, which its
    ///         `JobClaimed` named). k >= 3: `commitment` is the accepted result hash (deadline = now).
    event ResultAccepted(uint256 indexed jobId, bytes32 commitment, uint256 disputeDeadline);
    /// @notice `disputer` disputed the k = 1 result, posting `bond` (the job's collateral); a jury is drawn.
    event JobDisputed(uint256 indexed jobId, address indexed disputer, uint256 bond);
    /// @notice Round `round - 1` had a majority for `standing` but a dissent: `seats` nodes that never
    ///         sat in the job are drawn to re-run it, and their round decides (or escalates again).
    event RoundEscalated(uint256 indexed jobId, uint256 round, uint256 seats, bytes32 standing);
    /// @notice A disputed job settled. `resultUpheld`: the original node's result stands; `majorityResult`:
    ///         the verdict (zero if none: no jury formed, or the original never revealed).
    event DisputeResolved(uint256 indexed jobId, bool resultUpheld, bytes32 majorityResult);
    /// @notice `resultHash`: the agreed result (k >= 3, or a k = 1 result revealed in a dispute);
    ///         for an undisputed k = 1 job, its commitment (the result hash stays private).
    event JobPaid(uint256 indexed jobId, bytes32 resultHash, uint256 paidToNodes, uint256 protocolFee);
    /// @notice Round 0 was not filled, or nobody proved, by the deadline: the client is refunded, less any
    ///         keeper bounty that seized collateral and penalties did not cover. `fromStatus`: the
    ///         status it left.
    event JobExpired(uint256 indexed jobId, JobStatus fromStatus);
    /// @notice No result reached a majority of round 0's revealed seats: the client is refunded, less any
    ///         keeper bounty that seized collateral did not cover.
    event JobFailed(uint256 indexed jobId);
    /// @notice The final verdict agreed with no seat of round 0 (a later round proved the result wrong, or
    ///         a disputed k = 1 node did not reveal): the client is refunded in full.
    event JobOverturned(uint256 indexed jobId);
    /// @notice `amount` was added to `account`'s withdrawable balance for job `jobId` (payout, refund,
    ///         bounty, returned bond).
    event Credited(uint256 indexed jobId, address indexed account, uint256 amount);
    /// @notice `amount` of `nodeId`'s locked collateral was seized into the market (at most the job's
    ///         collateral).
    event CollateralSeized(uint256 indexed jobId, uint256 indexed nodeId, uint256 amount);
    /// @notice The dispute bond `amount` was pulled from `disputer` into escrow.
    event BondPosted(uint256 indexed jobId, address indexed disputer, uint256 amount);
    /// @notice `account`'s credited balance `amount` was sent to it (`withdraw` or `settleAndWithdraw`).
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice `settleAndWithdraw` left this job alone: it was no longer Accepted (a keeper settled
    ///         it, or it was disputed) or its dispute window had not passed. Nothing moved.
    event SettlementSkipped(uint256 indexed jobId, JobStatus status);
    /// @notice `amount` was added to node `nodeId`'s earnings for job `jobId` (its ledger; the
    ///         licence's owner withdraws it).
    event EarningsCredited(uint256 indexed jobId, uint256 indexed nodeId, uint256 amount);
    /// @notice Node `nodeId`'s earnings `amount` were sent to `owner`, its licence's owner.
    event EarningsWithdrawn(uint256 indexed nodeId, address indexed owner, uint256 amount);
    /// @notice The fees `amount` of node `nodeId`'s jobs settled in epoch `workEpoch` were sent to
    ///         Rewards as its work (Rewards counts them in the epoch current when they arrive).
    event WorkPushed(uint256 indexed nodeId, uint256 workEpoch, uint256 amount);
    /// @notice `account` deposited `amount` into its balance (spent on its next jobs first).
    event Deposited(address indexed account, uint256 amount);
    /// @notice `amount` of pending protocol fees was sent to the rewards contract.
    event FeesFlushed(uint256 amount);
    /// @notice New governance parameters; fee and bounty rates apply to jobs created from now on.
    event ParametersSet(Parameters parameters);

}

/// @title Job market and escrow
/// @notice Clients escrow TES for a job; node replicas take seats (locking collateral from their
///         stake), run it off-chain and post completion proofs: EIP-712 signatures by each node's
///         current operator that anyone may relay, many per transaction. See docs/protocol.md.
///         Who runs a job:
///         - k = 1 jobs are posted open: the first eligible node to `claim` runs it.
///         - k >= 3 (odd) replicas and every dispute jury are drawn by the contract from the Active
///           nodes that meet the job's requirements, weighted by stake, with randomness from a
///           block after the job or dispute was fixed (`draw`). A drawn node accepts within
///           `acceptWindow` (`acceptSeat`, locking collateral) or its seat is redrawn (`redraw`) and
///           it pays a small penalty; at most MAX_REDRAWS redraws a round, then the round's normal
///           deadline rules apply.
///         Nothing to copy:
///         - Every proof carries a commitment keccak256(jobId, nodeId, resultHash, salt), never the
///           result hash. k = 1: the job is Accepted and pays out after a dispute window; the client
///           checks the files and salt it fetched against the commitment. Anyone may dispute inside
///           the window with a bond equal to the collateral: a jury of `disputeReplicas` is drawn,
///           re-runs the job and commits; then the jurors and the original node reveal. An original
///           node that does not reveal loses.
///         - k >= 3: every replica commits before any reveal.
///         Losers pay winners: a round settles on the seats that revealed (more than half of them
///         must agree). A majority with a dissent escalates: 2k + 1 seats (up to MAX_REPLICAS) are
///         drawn from nodes that never sat in the job, and their verdict judges every earlier seat.
///         No-shows and seats against the final verdict are seized and their collateral goes to the
///         seats that were right, a successful disputer and the keeper; the client never gets more
///         than its payment back. Fee and bounty rates are fixed in the job's terms at creation.
///         Every state with a deadline can be moved on by anyone once it has passed, for a bounty.
///         Money is credited, never pushed: clients and keepers `withdraw`, node owners
///         `withdrawEarnings` (or are paid in `settleAndWithdraw`); a node's fees reach Rewards as its
///         work once per epoch.
/// @dev    Invariant (escrow): the market's TES balance equals the sum of payments of unsettled jobs
///         plus held dispute bonds plus pending protocol fees plus credited, unwithdrawn balances
///         (deposits included) plus every node ledger's earned and work.
///         Locked collateral stays in the registry as a lien on stake until it is seized.
interface IJobMarket is IJobMarketTypes {
    // ------------------------------------------------------------------ client
    /// @notice Escrows `request.payment` from the caller (needs a prior approve) and opens the job.
    function createJob(JobRequest calldata request) external returns (uint256 jobId);

    /// @notice Same as `createJob`, with an EIP-2612 permit instead of a prior approve. A permit
    ///         that was already used (e.g. front-run) is ignored if the allowance is in place.
    function createJobWithPermit(JobRequest calldata request, uint256 permitDeadline, uint8 v, bytes32 r, bytes32 s)
        external
        returns (uint256 jobId);

    /// @notice Creates a k = 1 job already claimed by the quote's node, in one transaction: escrows
    ///         the payment (balance first, as `createJob`), locks the node's collateral and starts
    ///         the execution window (`JobCreated`, `JobClaimed`, `JobRunning`). The quote is usable
    ///         once: it names the client's `quoteNonce`, which this call advances, so it cannot be
    ///         replayed, used by another client, or used after another quote of the same nonce.
    ///         Reverts like `createJob` on a bad request (`JobMarketInvalidReplicas` unless k = 1),
    ///         `JobMarketQuoteExpired` after the expiry, and as the registry's claim checks do when
    ///         the signer does not operate the node now (`NodeRegistryNotOperator`, a malformed
    ///         signature naming address 0) or the node cannot take the job (inactive, requirements,
    ///         free stake).
    ///         `permit` (optional) approves the payment in the same transaction, as in
    ///         `createJobWithPermit`.
    function createAndAssign(JobRequest calldata request, Quote calldata quote, PaymentPermit calldata permit)
        external
        returns (uint256 jobId);

    /// @notice The EIP-712 digest a node's operator signs for a quote (see `Quote`).
    function quoteDigest(JobRequest calldata request, address client, uint256 nonce, uint256 nodeId, uint256 expiry)
        external
        view
        returns (bytes32);

    /// @notice The nonce `client`'s next quote must name.
    function quoteNonce(address client) external view returns (uint256);

    /// @notice Client withdraws an Open job before any claim: full refund, credited.
    ///         Every entry point that names an existing job by its `terms` (as `JobCreated` emitted
    ///         them) checks them against the id (`jobIdOf`): terms that hash to no job revert
    ///         `JobMarketUnknownJob`, so a caller can neither invent a payment nor change a window.
    function cancel(JobTerms calldata terms) external;

    /// @notice Inside a k = 1 job's dispute window, anyone but the job's node may dispute by posting
    ///         a bond equal to the job's collateral (pulled with transferFrom). A jury is then drawn.
    ///         Upheld result: the bond pays the jurors who were right. Overturned: the disputer gets
    ///         the bond back and DISPUTER_SHARE_BPS of the node's seized collateral. A jury that
    ///         never forms or never answers: the result stands, and the disputer gets its bond back
    ///         minus DISPUTE_FEE_BPS, paid to the node whose payment it held up.
    function dispute(JobTerms calldata terms) external;

    // ------------------------------------------------------------------ node operators
    /// @notice The operator of `nodeId` claims an Open k = 1 job; locks the job's collateral.
    function claim(JobTerms calldata terms, uint256 nodeId) external;

    /// @notice The operator of `nodeId` accepts the seat it was drawn for; locks the collateral.
    function acceptSeat(uint256 jobId, uint256 nodeId) external;

    /// @notice Relays completion proofs (anyone may send). Stale proofs (job no longer Running,
    ///         deadline passed, seat already committed) are skipped with `ProofSkipped`; a proof
    ///         signed by anyone but the node's current operator, or for a node without a seat,
    ///         reverts the batch.
    function submitProofs(ProofBatch[] calldata batches) external;

    /// @notice Reveals committed results (anyone may send: reveals authenticate by their commitment).
    function reveal(Reveal[] calldata reveals) external;

    // ------------------------------------------------------------------ anyone (keepers)
    /// @notice Draws every empty seat of a Seating job's round from the anchored block's hash
    ///         (callable once that block is past). A seat with no eligible node after
    ///         MAX_DRAW_ATTEMPTS stays empty and the draw is re-anchored, within the redraw budget.
    function draw(uint256 jobId) external;

    /// @notice Drops every drawn seat of `jobId` whose accept deadline passed: each node pays a
    ///         penalty (SEAT_PENALTY_BPS of the collateral, from free stake), loses the epoch's
    ///         availability share, and its seat is redrawn (anchored on the next block) while the
    ///         redraw budget lasts. Caller earns a bounty out of the penalties.
    function redraw(uint256 jobId) external;

    /// @notice Pays an Accepted job once its dispute window has passed. Caller earns a bounty.
    function finalize(JobTerms calldata terms) external;

    /// @notice Moves on an Open, Running or Revealing job whose deadline has passed: refunds the
    ///         client or settles on the reveals in, and slashes replicas that did not deliver.
    ///         Caller earns a bounty.
    function expire(JobTerms calldata terms) external;

    /// @notice Sends the caller's credited balance (refunds, bounties, bonds, deposits not spent).
    function withdraw() external returns (uint256 amount);

    /// @notice Adds `amount` (pulled with transferFrom) to the caller's balance: `createJob` spends
    ///         a balance that covers the payment before asking for an allowance, so a client that
    ///         deposits once pays no token transfer per job.
    function deposit(uint256 amount) external;

    /// @notice Sends the earnings of `nodeIds` (all of one owner) to that owner. The caller is the
    ///         owner or the operator of every node; the owner is paid whoever calls.
    /// @return amount what the owner received
    function withdrawEarnings(uint256[] calldata nodeIds) external returns (uint256 amount);

    /// @notice Sends each node's pending work (the fees of its settled jobs) to Rewards now instead
    ///         of at its first settlement in a later epoch. Anyone may call; nothing pending: no-op.
    function pushWork(uint256[] calldata nodeIds) external;

    /// @notice Pays the node owner's own Accepted k = 1 jobs whose dispute windows have passed and
    ///         sends the owner the earnings of every node named, in one transfer: no keeper bounty
    ///         (the whole fee is the node's work) and no separate withdrawal. The caller is the
    ///         owner or the operator of every job's node, and the nodes share one owner, who is
    ///         paid whoever calls. A job that is no longer settleable is skipped
    ///         (`SettlementSkipped`), so a keeper settling one first does not revert the batch;
    ///         its node's earnings are still sent (a keeper's settlement credited them).
    /// @return amount what the owner received (0 if everything was skipped and nothing was earned)
    function settleAndWithdraw(JobTerms[] calldata jobs) external returns (uint256 amount);

    /// @notice Sends accumulated protocol fees to the rewards contract. Anyone may call.
    function flushFees() external;

    // ------------------------------------------------------------------ governance
    function setParameters(Parameters calldata parameters) external;
    function pause() external;
    function unpause() external;

    // ------------------------------------------------------------------ views
    /// @notice The job `jobId` as the market stores it.
    function job(uint256 jobId) external view returns (Job memory);
    /// @notice The job with these terms (reverts `JobMarketUnknownJob` if they hash to none): its
    ///         terms and its state, whatever the market stores of it.
    function jobOf(JobTerms calldata terms) external view returns (Job memory);
    function replica(uint256 jobId, uint256 index) external view returns (Replica memory);
    /// @notice Jobs `client` created so far: the `nonce` of its next job's terms.
    function jobNonce(address client) external view returns (uint256);
    /// @notice The id of a job with these terms: `uint256(keccak256(abi.encode(terms)))`.
    function jobIdOf(JobTerms calldata terms) external pure returns (uint256);
    function credited(address account) external view returns (uint256);
    function ledger(uint256 nodeId) external view returns (NodeLedger memory);
    function pendingFees() external view returns (uint256);
    /// @notice The rounds module the market runs disputes, draws, reveals and expiry in (by
    ///         DELEGATECALL); it cannot be used on its own.
    function rounds() external view returns (address);
    function parameters() external view returns (Parameters memory);
    function commitmentOf(uint256 jobId, uint256 nodeId, bytes32 resultHash, bytes32 salt) external pure returns (bytes32);
    /// @notice The EIP-712 digest an operator signs for a completion proof.
    function proofDigest(Completion[] calldata items) external view returns (bytes32);
    function domainSeparator() external view returns (bytes32);
}
