// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Node registry
/// @notice One record per node licence (node id = licence token id): the operator key that acts for
///         it, the hardware it declares, its bonded TES stake, its status and its reputation.
///         Only the licence owner configures a node; only its operator acts for it; only the job
///         market locks, releases and seizes collateral.
/// @dev    Stake is held by this contract. Collateral for a claimed job is a lien on the stake
///         (`locked`): it cannot be unbonded while locked, and moves to the job market only when
///         it is seized. Stake and reputation belong to the licence and travel with it; the
///         operator binding does not (the registry clears it when the licence changes hands).
///         Binding is two-step: the owner proposes a key and the key accepts, so nobody can enlist
///         another operator's node software. Accepting a new key replaces the old one at once, and
///         the job market checks the node's current operator on every proof: a rotation hands the
///         node's in-flight seats to the new key.
///         Sortition: every Active node is a leaf of a stake-weighted sum tree (a Fenwick tree over
///         node ids, see libraries/SortitionTree.sol). `drawNode` picks a node with probability
///         stake / total active stake in O(log n) reads; every change of stake or status updates
///         the tree in O(log n) writes.
interface INodeRegistry {
    enum NodeStatus {
        Inactive, // licence exists; not (or no longer) serving jobs
        Active, // serving jobs
        Jailed, // slashed recently; cannot claim until unjailed
        Retired // left the network for good; stake can be unbonded
    }

    /// @notice How a replica's collateral is released: counted as completed, failed, or not at all
    ///         (no fault: e.g. the job expired because other replicas never claimed).
    enum Outcome {
        NoFault,
        Completed,
        Failed
    }

    /// @notice Hardware a node declares, or a job requires.
    struct Capabilities {
        uint16 cpuCores;
        uint32 memoryMb;
        uint8 gpuCount;
        uint32 gpuMemoryMb; // per GPU
        uint8 gpuClass; // 0 = none/any, higher = more capable class (see docs/protocol.md)
    }

    struct Node {
        address operator;
        NodeStatus status;
        uint40 jailedUntil;
        Capabilities capabilities;
        uint96 stake; // bonded, includes `locked`
        uint96 locked; // collateral held for claimed jobs
        uint96 unbonding;
        uint40 unbondingReleaseAt;
        uint32 completed;
        uint32 failed;
        uint32 slashed;
    }

    // ------------------------------------------------------------------ errors
    /// @notice `caller` does not own the licence of `nodeId` (licence-owner-only call).
    error NodeRegistryNotLicenceOwner(uint256 nodeId, address caller);
    /// @notice `caller` is not the bound operator of `nodeId` (or the node has none): on `announceEndpoint`,
    ///         or when the job market locks collateral for the key that claims or accepts a seat.
    error NodeRegistryNotOperator(uint256 nodeId, address caller);
    /// @notice A job-market-only function was called by `caller`, not the job market.
    error NodeRegistryNotJobMarket(address caller);
    /// @notice `onLicenceTransfer` was called by `caller`, not the licence contract.
    error NodeRegistryNotLicence(address caller);
    /// @notice `setJobMarket` after the job market was wired (to `market`); it is set once.
    error NodeRegistryJobMarketAlreadySet(address market);
    /// @notice A zero address: the token or licence at deployment, the job market, or a proposed operator.
    error NodeRegistryInvalidAddress();
    /// @notice `stake` or `requestUnbond` with an amount of 0.
    error NodeRegistryZeroAmount();
    /// @notice `activate` on a node with no bound operator.
    error NodeRegistryNoOperator(uint256 nodeId);
    /// @notice `activate` with `have` bonded, below `need` (`minStake`).
    error NodeRegistryInsufficientStake(uint256 nodeId, uint256 have, uint256 need);
    /// @notice Unbonding, or locking collateral for a seat, needs `need` but only `free` (stake - locked)
    ///         is free.
    error NodeRegistryInsufficientFreeStake(uint256 nodeId, uint256 free, uint256 need);
    /// @notice The job market tried to lock collateral of a node that is not Active (`status`).
    error NodeRegistryNotActive(uint256 nodeId, NodeStatus status);
    /// @notice The node's `status` does not allow the call: `stake` or `retire` on a Retired node, `activate`
    ///         unless Inactive or Jailed, `deactivate` unless Active.
    error NodeRegistryWrongStatus(uint256 nodeId, NodeStatus status);
    /// @notice `activate` on a Jailed node before its jail ends at `jailedUntil`.
    error NodeRegistryStillJailed(uint256 nodeId, uint256 jailedUntil);
    /// @notice `withdrawUnbonded` before the unbonding delay ends at `releaseAt`.
    error NodeRegistryUnbondingNotReady(uint256 nodeId, uint256 releaseAt);
    /// @notice `withdrawUnbonded` with no stake unbonding.
    error NodeRegistryNothingUnbonding(uint256 nodeId);
    /// @notice The node's declared hardware does not meet the job's requirements in every field (seat lock).
    error NodeRegistryCapabilitiesNotMet(uint256 nodeId);
    /// @notice Parameter `name` out of range: `minStake` 0, `unbondingDelay` above MAX_UNBONDING_DELAY or
    ///         `jailPeriod` above MAX_JAIL_PERIOD.
    error NodeRegistryParameterOutOfBounds(bytes32 name, uint256 value);
    /// @notice `caller` is not the key the licence owner proposed for `nodeId`.
    error NodeRegistryNotPendingOperator(uint256 nodeId, address caller);
    /// @notice Node ids above the sortition tree's range (2^32 - 1) cannot be staked or drawn.
    error NodeRegistryNodeIdTooLarge(uint256 nodeId);

    // ------------------------------------------------------------------ events
    /// @notice The licence owner proposed `operator`; it serves the node once it calls `acceptOperator`.
    event OperatorProposed(uint256 indexed nodeId, address indexed operator);
    /// @notice `operator` accepted the binding and now acts for the node (any previous key is replaced).
    event OperatorBound(uint256 indexed nodeId, address indexed operator);
    /// @notice `operator` no longer acts for the node: another key accepted the binding, or the licence
    ///         changed hands.
    event OperatorUnbound(uint256 indexed nodeId, address indexed operator);
    /// @notice The licence owner declared the node's hardware (fields as in `Capabilities`).
    event CapabilitiesDeclared(uint256 indexed nodeId, uint16 cpuCores, uint32 memoryMb, uint8 gpuCount, uint32 gpuMemoryMb, uint8 gpuClass);
    /// @notice `from` added `amount` TES to the node's bond; `newStake` is its bonded stake after.
    event Staked(uint256 indexed nodeId, address indexed from, uint256 amount, uint256 newStake);
    /// @notice `amount` of free stake left the bond to unbond; everything unbonding can be withdrawn from
    ///         `releaseAt` (a second request restarts the delay).
    event UnbondRequested(uint256 indexed nodeId, uint256 amount, uint256 releaseAt);
    /// @notice Matured unbonding stake (`amount`) was sent to the licence owner `to`.
    event Unbonded(uint256 indexed nodeId, address indexed to, uint256 amount);
    /// @notice The node's new `status`: set by its owner, or Jailed by a seizure, Inactive after a licence
    ///         transfer or when its stake fell below `minStake`.
    event NodeStatusChanged(uint256 indexed nodeId, NodeStatus status);
    /// @notice The job market locked `amount` of the node's free stake as collateral for a seat.
    event CollateralLocked(uint256 indexed nodeId, uint256 amount);
    /// @notice The job market released `amount` of the node's locked collateral, the sum of `replicas`
    ///         replicas' collateral; `outcome` is counted once per replica in its record.
    event CollateralReleased(uint256 indexed nodeId, uint256 amount, Outcome outcome, uint256 replicas);
    /// @notice The job market seized `amount` of the node's locked collateral (0 if none was left); the node
    ///         is jailed until `jailedUntil` (a Retired node stays Retired).
    event NodeSlashed(uint256 indexed nodeId, uint256 amount, uint256 jailedUntil);
    /// @notice The job market was wired (once): only it locks, releases, seizes and penalizes.
    event JobMarketSet(address indexed market);
    /// @notice Where the node serves results to clients (only emitted: clients read the latest).
    event EndpointAnnounced(uint256 indexed nodeId, string url);
    /// @notice New governance parameters: `minStake` in TES, `unbondingDelay` and `jailPeriod` in seconds.
    event ParametersSet(uint256 minStake, uint256 unbondingDelay, uint256 jailPeriod);
    /// @notice A drawn node that did not accept its seat in time lost `amount` of free stake.
    event NodePenalized(uint256 indexed nodeId, uint256 amount);
    /// @notice The node's weight in the sortition tree changed (0 = cannot be drawn).
    event DrawWeightChanged(uint256 indexed nodeId, uint256 weight);

    // ------------------------------------------------------------------ licence owner
    /// @notice Proposes the hot key that will accept seats and sign proofs for `nodeId`. Licence owner
    ///         only. Takes effect when `operator` calls `acceptOperator`; until then any current key
    ///         stays bound. Proposing again replaces the pending proposal.
    function bindOperator(uint256 nodeId, address operator) external;

    /// @notice The proposed key accepts serving `nodeId` (two-step binding, and key rotation).
    function acceptOperator(uint256 nodeId) external;

    /// @notice Declares the node's hardware. Licence owner only.
    function declareCapabilities(uint256 nodeId, Capabilities calldata capabilities) external;

    /// @notice Adds `amount` TES (pulled from the caller) to the node's bonded stake. Anyone may top up.
    function stake(uint256 nodeId, uint256 amount) external;

    /// @notice Starts unbonding `amount` of free (unlocked) stake; it can be withdrawn after the delay.
    ///         A second request adds to the pending amount and restarts the delay. Licence owner only.
    function requestUnbond(uint256 nodeId, uint256 amount) external;

    /// @notice Sends matured unbonding stake to the current licence owner. Licence owner only.
    function withdrawUnbonded(uint256 nodeId) external;

    /// @notice Puts the node into service: needs an operator and at least `minStake` bonded.
    ///         Also how a jailed node returns, once its jail period is over. Licence owner only.
    function activate(uint256 nodeId) external;

    /// @notice Takes the node out of service (it may be activated again). Licence owner only.
    function deactivate(uint256 nodeId) external;

    /// @notice Leaves the network for good. Licence owner only.
    function retire(uint256 nodeId) external;

    // ------------------------------------------------------------------ operator
    /// @notice The node's operator announces the URL where it serves results to paying clients.
    function announceEndpoint(uint256 nodeId, string calldata url) external;

    // ------------------------------------------------------------------ job market
    /// @notice Checks that `operator` acts for an active `nodeId` whose capabilities meet `need`,
    ///         and locks `collateral` from its free stake. Job market only.
    function lockForClaim(uint256 nodeId, address operator, Capabilities calldata need, uint256 collateral)
        external;

    /// @notice Releases `amount` of locked collateral, the sum of `replicas` replicas' collateral, and
    ///         counts `outcome` once per replica. The market releases one replica at a time, except
    ///         `settleAndWithdraw`, which releases a run of one node's jobs in one call.
    function release(uint256 nodeId, uint256 amount, Outcome outcome, uint256 replicas) external;

    /// @notice Seizes up to `amount` of the node's locked collateral: sends it to the job market,
    ///         counts a slash and jails the node. Returns what was seized.
    function seize(uint256 nodeId, uint256 amount) external returns (uint256 seized);

    /// @notice A drawn node did not accept its seat in time: takes up to `amount` of its free stake
    ///         (sent to the job market), no jail. Returns what was taken. Job market only.
    function penalize(uint256 nodeId, uint256 amount) external returns (uint256 taken);

    /// @notice Called by the licence contract when a licence changes hands: unbinds the operator
    ///         and takes the node out of service.
    function onLicenceTransfer(uint256 nodeId, address from, address to) external;

    // ------------------------------------------------------------------ governance
    function setJobMarket(address market) external;
    function setParameters(uint96 minStake, uint32 unbondingDelay, uint32 jailPeriod) external;

    // ------------------------------------------------------------------ views
    function node(uint256 nodeId) external view returns (Node memory);
    function operatorOf(uint256 nodeId) external view returns (address);
    function pendingOperatorOf(uint256 nodeId) external view returns (address);
    /// @notice Picks an Active node with probability proportional to its stake, from `seed`.
    ///         Returns 0 when no node can be drawn. O(log n) storage reads.
    function drawNode(bytes32 seed) external view returns (uint256 nodeId);
    /// @notice Whether `nodeId` can take a seat now: Active, with an operator, capabilities meeting
    ///         `need` and at least `collateral` of free stake; and its current operator.
    function canServe(uint256 nodeId, Capabilities calldata need, uint256 collateral)
        external
        view
        returns (bool ok, address operator);
    function drawWeight(uint256 nodeId) external view returns (uint256);
    function totalDrawWeight() external view returns (uint256);
    /// @notice The block in which a draw weight last changed. A draw seeded by the hash of block B
    ///         is refused if a weight changed after B: otherwise whoever saw the hash could shape
    ///         the tree (stake here, deactivate there) to steer the seed onto its own nodes.
    function lastWeightChangeBlock() external view returns (uint256);
    function ownerOfNode(uint256 nodeId) external view returns (address);
    function isActive(uint256 nodeId) external view returns (bool);
    function meets(Capabilities calldata have, Capabilities calldata need) external pure returns (bool);
    function freeStake(uint256 nodeId) external view returns (uint256);
    function minStake() external view returns (uint256);
    function unbondingDelay() external view returns (uint256);
    function jailPeriod() external view returns (uint256);
    function jobMarket() external view returns (address);
    function licence() external view returns (address);
    function token() external view returns (address);
}
