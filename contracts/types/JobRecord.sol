// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IJobMarket, IJobMarketTypes} from "../interfaces/IJobMarket.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {JobMoney, JobMoneyLib} from "./JobTerms.sol";

/// @notice A job as the market stores it: five slots, of which a step usually touches slot 0 and 2.
/// @dev Money-moving rates (fee, keeper bounty) are copied into the record at creation, so a later
///      governance change never reaches a job already escrowed. Terms no rule reads on chain (the
///      bundle hash and URI) are only emitted in `JobCreated`: nodes and clients keep them from
///      there (settlement v2: a fresh slot costs every job 22,100 gas).
struct JobRecord {
    // slot 0: what nearly every step reads and writes
    uint96 payment;
    uint96 collateral;
    uint40 deadline;
    IJobMarketTypes.JobStatus status;
    uint8 k;
    uint8 round;
    // slot 1
    address client;
    uint16 cpuCores;
    uint32 memoryMb;
    uint8 gpuCount;
    uint32 gpuMemoryMb;
    uint8 gpuClass;
    // slot 2: counters and terms
    uint8 claims;
    uint8 commits;
    uint8 reveals;
    uint8 replicaCount;
    uint8 seated;
    uint8 redraws;
    uint16 protocolFeeBps;
    uint16 keeperBountyBps;
    uint32 claimWindow;
    uint32 executionWindow;
    uint32 revealWindow;
    uint32 disputeWindow;
    uint40 drawBlock;
    // slot 3: k = 1: the proven commitment; during a later round the standing verdict; settled:
    //         the accepted result hash
    bytes32 commitment;
    // slot 4: written by a dispute
    address disputer;
}

using JobRecordLib for JobRecord global;

/// @title JobRecordLib
/// @notice The arithmetic of a job's terms, in one place.
library JobRecordLib {
    /// @notice Writes the terms a record keeps (everything but the bundle and the nonce): at a
    ///         replicated job's creation, and when a dispute promotes a one-slot job.
    function setTerms(JobRecord storage j, IJobMarketTypes.JobTerms memory t) internal {
        (j.payment, j.collateral, j.k, j.client) = (t.payment, t.collateral, t.replicas, t.client);
        (j.cpuCores, j.memoryMb, j.gpuCount) = (t.requirements.cpuCores, t.requirements.memoryMb, t.requirements.gpuCount);
        (j.gpuMemoryMb, j.gpuClass) = (t.requirements.gpuMemoryMb, t.requirements.gpuClass);
        (j.protocolFeeBps, j.keeperBountyBps) = (t.protocolFeeBps, t.keeperBountyBps);
        (j.claimWindow, j.executionWindow, j.revealWindow, j.disputeWindow) =
            (t.claimWindow, t.executionWindow, t.revealWindow, t.disputeWindow);
    }

    function requirements(JobRecord storage j) internal view returns (INodeRegistry.Capabilities memory) {
        return INodeRegistry.Capabilities({
            cpuCores: j.cpuCores,
            memoryMb: j.memoryMb,
            gpuCount: j.gpuCount,
            gpuMemoryMb: j.gpuMemoryMb,
            gpuClass: j.gpuClass
        });
    }

    /// @notice The protocol fee on the job's payment, at the rate fixed at creation (the one rule
    ///         of `JobMoneyLib`, which a one-slot job's terms use too).
    function fee(JobRecord storage j) internal view returns (uint256) {
        return JobMoneyLib.fee(money(j));
    }

    /// @notice A keeper's bounty on `amount`, at the rate fixed at creation.
    function bounty(JobRecord storage j, uint256 amount) internal view returns (uint256) {
        return JobMoneyLib.bounty(money(j), amount);
    }

    function money(JobRecord storage j) internal view returns (JobMoney memory) {
        return JobMoney(j.payment, j.collateral, j.protocolFeeBps, j.keeperBountyBps);
    }

    /// @notice Seats whose reveal completes the round: the committed seats, plus the original node
    ///         in a k = 1 job's first jury round, which must reveal next to the jurors.
    function revealsExpected(JobRecord storage j) internal view returns (uint256) {
        return uint256(j.commits) + (originalReveals(j) ? 1 : 0);
    }

    /// @notice Whether the current round is a k = 1 job's first jury, where the original node reveals.
    function originalReveals(JobRecord storage j) internal view returns (bool) {
        return j.round == 1 && j.disputer != address(0);
    }

    function view_(JobRecord storage j) internal view returns (IJobMarketTypes.Job memory out) {
        out.payment = j.payment;
        out.collateral = j.collateral;
        out.deadline = j.deadline;
        out.status = j.status;
        out.k = j.k;
        out.round = j.round;
        out.client = j.client;
        out.requirements = requirements(j);
        out.claims = j.claims;
        out.commits = j.commits;
        out.reveals = j.reveals;
        out.replicaCount = j.replicaCount;
        out.seated = j.seated;
        out.redraws = j.redraws;
        out.protocolFeeBps = j.protocolFeeBps;
        out.keeperBountyBps = j.keeperBountyBps;
        out.claimWindow = j.claimWindow;
        out.executionWindow = j.executionWindow;
        out.revealWindow = j.revealWindow;
        out.disputeWindow = j.disputeWindow;
        out.drawBlock = j.drawBlock;
        out.commitment = j.commitment;
        out.disputer = j.disputer;
    }
}
