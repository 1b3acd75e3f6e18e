// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Rewards
/// @notice Turns emissions and client fees into TES for node owners, epoch by epoch, so that no
///         strategy earns more than honest work:
///         - Emission (plus unattributed income: seized collateral nobody was owed, seat penalties,
///           rounding dust) pays availability only: split equally among the licences whose node
///           proved liveness in the epoch and accepted every seat it was drawn for. Missing a
///           drawn seat takes the node out of the epoch's availability share.
///         - The protocol fees that jobs paid in the epoch pay the work share, pro rata to the fees
///           each node's jobs paid: self-dealt volume returns at most the fee it paid.
///         A share with nobody to pay carries to the next epoch.
/// @dev    Per-node state is O(1): the node's last live epoch and last work epoch (with its work);
///         a node's pending epochs are settled into its accrued balance lazily, when it next acts
///         or its owner claims. Claiming never loops over the network.
///         Emission for epoch e is `initialEmission >> (e / halvingEpochs)`; the constructor proves
///         genesis + 2 * initialEmission * halvingEpochs <= cap, so the schedule can never pass it.
interface IRewards {
    struct Epoch {
        uint128 availabilityPerNode; // TES per live node, fixed when the epoch closes
        uint128 workRate; // TES per unit of work, scaled by 1e18, fixed when the epoch closes
        uint64 liveNodes;
        uint128 totalWork;
        uint128 fees; // protocol fees of the jobs settled in the epoch (the work pot)
        uint128 income; // unattributed income received in the epoch (joins the availability pot)
        bool closed;
    }

    enum HeartbeatSkip {
        NotOperator,
        NotActive,
        MissedSeat
    }

    // ------------------------------------------------------------------ errors
    /// @notice A job-market-only function (`recordWork`, `notifyFees`, `recordMissedSeat`) was called by
    ///         `caller`.
    error RewardsNotJobMarket(address caller);
    /// @notice `claim` for `nodeId`, whose licence `caller` does not own.
    error RewardsNotLicenceOwner(uint256 nodeId, address caller);
    /// @notice `claim` by `owner` found nothing accrued to any of the given nodes.
    error RewardsNothingToClaim(address owner);
    /// @notice `setJobMarket` after the job market was wired (to `market`); it is set once.
    error RewardsJobMarketAlreadySet(address market);
    /// @notice A zero address: the token or registry at deployment, or the job market.
    error RewardsInvalidAddress();
    /// @notice At deployment: the emission schedule could pass the token's `cap` given `genesisSupply`
    ///         (2 * initialEmission * halvingEpochs > cap - genesisSupply), `halvingEpochs` is 0, or
    ///         `initialEmission` does not fit 128 bits.
    error RewardsInvalidSchedule(uint256 genesisSupply, uint256 initialEmission, uint256 halvingEpochs, uint256 cap);
    /// @notice Parameter `name` out of range (`epochLength` outside [MIN_EPOCH_LENGTH, MAX_EPOCH_LENGTH]).
    error RewardsParameterOutOfBounds(bytes32 name, uint256 value);

    // ------------------------------------------------------------------ events
    /// @notice `epoch` closed and its `emission` was minted. `fees`: the protocol fees recorded as work (the
    ///         `workPot`); `availabilityPot`: emission + income + the previous carry; `carried`: what was
    ///         left unpaid and joins the next epoch's availability pot.
    event EpochClosed(uint256 indexed epoch, uint256 emission, uint256 fees, uint256 availabilityPot, uint256 workPot, uint256 carried);
    /// @notice A heartbeat counted the node live in `epoch`: it shares the epoch's availability pot unless it
    ///         then misses a drawn seat.
    event LivenessProved(uint256 indexed nodeId, uint256 indexed epoch);
    /// @notice The job market recorded `amount` TES of protocol fee as the node's work in `epoch` (work pot).
    event WorkRecorded(uint256 indexed nodeId, uint256 indexed epoch, uint256 amount);
    /// @notice `amount` TES of unattributed income (seized collateral nobody was owed, penalties, dust)
    ///         joined `epoch`'s availability pot.
    event FeesReceived(uint256 indexed epoch, uint256 amount);
    /// @notice A node in a heartbeat batch was not counted (inactive, not the caller's, or it
    ///         missed a drawn seat this epoch); the rest of the batch still counts.
    event HeartbeatSkipped(uint256 indexed nodeId, uint256 indexed epoch, HeartbeatSkip reason);
    /// @notice The node did not accept a seat it was drawn for: no availability share this epoch.
    event SeatMissed(uint256 indexed nodeId, uint256 indexed epoch);
    /// @notice `owner` was paid `amount` TES (possibly 0) accrued to `nodeId`.
    event RewardsClaimed(address indexed owner, uint256 indexed nodeId, uint256 amount);
    /// @notice The job market was wired (once): only it records work, fees and missed seats.
    event JobMarketSet(address indexed market);

    // ------------------------------------------------------------------ external
    /// @notice Operator proves its nodes were alive this epoch (once per node per epoch counts).
    ///         Nodes that cannot count are skipped with `HeartbeatSkipped`, never fatal to the batch.
    function heartbeat(uint256[] calldata nodeIds) external;

    /// @notice Job market only: a job settled in `nodeId`'s favour paid `fee` TES of protocol fee,
    ///         just transferred to this contract. The fee joins the epoch's work pot and counts as
    ///         the node's work.
    function recordWork(uint256 nodeId, uint256 fee) external;

    /// @notice Job market only: `amount` TES of unattributed income (seized collateral nobody was
    ///         owed, penalties, dust) was just transferred here; it joins the availability pot.
    function notifyFees(uint256 amount) external;

    /// @notice Job market only: `nodeId` was drawn for a seat and did not accept it in time; it
    ///         gets no availability share for the current epoch.
    function recordMissedSeat(uint256 nodeId) external;

    /// @notice Closes up to `maxEpochs` finished epochs (minting their emission). Anyone may call;
    ///         every other entry point also closes what it needs.
    function checkpoint(uint256 maxEpochs) external;

    /// @notice Pays the caller everything accrued to `nodeIds` (licences the caller owns) for all
    ///         finished epochs. Cost is O(nodeIds.length), independent of the network's size.
    function claim(uint256[] calldata nodeIds) external returns (uint256 amount);

    /// @notice Wires the job market (allowed to record work and fees). Owner only, once.
    function setJobMarket(address market) external;

    // ------------------------------------------------------------------ views
    function currentEpoch() external view returns (uint256);
    function epochLength() external view returns (uint256);
    function genesisTime() external view returns (uint256);
    function emissionForEpoch(uint256 epoch) external view returns (uint256);
    function epoch(uint256 epochId) external view returns (Epoch memory);
    function lastClosedEpoch() external view returns (uint256 next); // first epoch not yet closed
    /// @notice What `claim([nodeId])` would pay now (closing finished epochs in the view).
    function claimable(uint256 nodeId) external view returns (uint256);
    function totalMinted() external view returns (uint256);
    function totalFunded() external view returns (uint256); // minted emissions + fees received
    function totalClaimed() external view returns (uint256);
    /// @notice Whether `nodeId` missed a drawn seat in `epochId`.
    function missedSeat(uint256 nodeId, uint256 epochId) external view returns (bool);
}
