// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IJobMarketTypes} from "../interfaces/IJobMarket.sol";

/// @notice A k = 1 job as the market stores it: one word. Its terms (payment, collateral, client,
///         rates, windows) are not stored: the id is their hash, and every entry point that needs
///         one takes the terms back as calldata. What the lifecycle changes lives here:
///
///         bits   0..7    status (`JobStatus`; None: no slot, the job is a full `JobRecord`)
///         bits   8..39   time: the deadline of the current status (claim, execution, dispute),
///                        seconds (uint32 lasts until 2106)
///         bits  40..71   node id (the registry only knows ids below 2^32)
///         bits  72..95   the terms' dispute window (MAX_WINDOW < 2^24), so a proof, which carries
///                        no terms, can start the dispute window itself
///         bits  96..255  fingerprint: the low 160 bits of the proof's commitment
///
/// @dev    Why a fingerprint and not the commitment: it leaves the job one word (a fresh slot costs
///         22,100 gas). It binds the node as a commitment must: opening it to another result means
///         finding two openings with the same 160 bits, a 2^80 birthday search, the strength of
///         an Ethereum address. Payment is exactly-once because every settling step moves the
///         status out of Accepted (or Open, Running) in the same word it checks.
type JobSlot is uint256;

using JobSlotLib for JobSlot global;

library JobSlotLib {
    uint256 private constant TIME_SHIFT = 8;
    uint256 private constant NODE_SHIFT = 40;
    uint256 private constant WINDOW_SHIFT = 72;
    uint256 private constant PRINT_SHIFT = 96;

    /// @notice A new slot: `status` until `time`, taken by `nodeId` (0: not yet).
    function create(IJobMarketTypes.JobStatus status, uint256 time, uint256 nodeId, uint256 disputeWindow)
        internal
        pure
        returns (JobSlot)
    {
        return JobSlot.wrap(
            uint256(status) | uint256(uint32(time)) << TIME_SHIFT | uint256(uint32(nodeId)) << NODE_SHIFT
                | uint256(uint24(disputeWindow)) << WINDOW_SHIFT
        );
    }

    function status(JobSlot s) internal pure returns (IJobMarketTypes.JobStatus) {
        return IJobMarketTypes.JobStatus(uint8(JobSlot.unwrap(s)));
    }

    function time(JobSlot s) internal pure returns (uint256) {
        return uint32(JobSlot.unwrap(s) >> TIME_SHIFT);
    }

    function nodeId(JobSlot s) internal pure returns (uint256) {
        return uint32(JobSlot.unwrap(s) >> NODE_SHIFT);
    }

    function disputeWindow(JobSlot s) internal pure returns (uint256) {
        return uint24(JobSlot.unwrap(s) >> WINDOW_SHIFT);
    }

    /// @notice The proven commitment's fingerprint (zero before the proof), as a bytes32.
    function fingerprint(JobSlot s) internal pure returns (bytes32) {
        return bytes32(JobSlot.unwrap(s) >> PRINT_SHIFT);
    }

    /// @notice What a slot keeps of `commitment`, in the form `fingerprint` returns.
    function fingerprintOf(bytes32 commitment) internal pure returns (bytes32) {
        return bytes32(uint256(uint160(uint256(commitment))));
    }

    /// @notice The same slot, moved to `status` until `time` (node, window, fingerprint kept).
    function moved(JobSlot s, IJobMarketTypes.JobStatus status_, uint256 time_) internal pure returns (JobSlot) {
        uint256 keep = JobSlot.unwrap(s) & ~uint256(0xffffffffff); // clears status and time
        return JobSlot.wrap(keep | uint256(status_) | uint256(uint32(time_)) << TIME_SHIFT);
    }

    /// @notice Taken by `nodeId`: Running until `time_`.
    function taken(JobSlot s, uint256 nodeId_, uint256 time_) internal pure returns (JobSlot) {
        uint256 cleared = JobSlot.unwrap(s) & ~(uint256(type(uint32).max) << NODE_SHIFT);
        return moved(JobSlot.wrap(cleared | uint256(uint32(nodeId_)) << NODE_SHIFT), IJobMarketTypes.JobStatus.Running, time_);
    }

    /// @notice Proven with `commitment`: Accepted until the dispute window from now has passed.
    function proven(JobSlot s, bytes32 commitment, uint256 now_) internal pure returns (JobSlot) {
        uint256 keep = JobSlot.unwrap(s) & ((uint256(1) << PRINT_SHIFT) - 1);
        JobSlot p = JobSlot.wrap(keep | uint256(fingerprintOf(commitment)) << PRINT_SHIFT);
        return moved(p, IJobMarketTypes.JobStatus.Accepted, now_ + disputeWindow(s));
    }

    /// @notice Whether the node's proof is in: Accepted, or Paid from there.
    function proven(JobSlot s) internal pure returns (bool) {
        IJobMarketTypes.JobStatus st = status(s);
        return st == IJobMarketTypes.JobStatus.Accepted || st == IJobMarketTypes.JobStatus.Paid;
    }

    /// @notice `job(id)` of a slot job: what the word holds (status, deadline, seat, dispute window,
    ///         fingerprint); the terms are zero, since only their hash is known (see `jobOf`).
    function view_(JobSlot s) internal pure returns (IJobMarketTypes.Job memory out) {
        out.status = status(s);
        out.deadline = uint40(time(s));
        out.k = 1;
        uint8 seated = nodeId(s) == 0 ? 0 : 1;
        (out.claims, out.replicaCount, out.seated) = (seated, seated, seated);
        out.commitment = fingerprint(s);
        out.commits = proven(s) ? 1 : 0;
        out.disputeWindow = uint32(disputeWindow(s));
    }

    /// @notice `jobOf(terms)` of a slot job: the word's state with the terms it was created with.
    function viewWith(JobSlot s, IJobMarketTypes.JobTerms calldata t)
        internal
        pure
        returns (IJobMarketTypes.Job memory out)
    {
        out = view_(s);
        (out.payment, out.collateral, out.client, out.requirements) = (t.payment, t.collateral, t.client, t.requirements);
        (out.protocolFeeBps, out.keeperBountyBps) = (t.protocolFeeBps, t.keeperBountyBps);
        (out.claimWindow, out.executionWindow, out.revealWindow) = (t.claimWindow, t.executionWindow, t.revealWindow);
    }

    /// @notice `replica(id, 0)` of a slot job: its one seat (the operator is in `JobClaimed`).
    function seat(JobSlot s) internal pure returns (IJobMarketTypes.Replica memory r) {
        r.nodeId = uint32(nodeId(s));
        if (r.nodeId == 0) return r;
        r.state = proven(s) ? IJobMarketTypes.SeatState.Committed : IJobMarketTypes.SeatState.Claimed;
    }
}
