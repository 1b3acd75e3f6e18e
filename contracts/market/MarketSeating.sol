// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {IJobMarket, IJobMarketTypes} from "../interfaces/IJobMarket.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {IRewards} from "../interfaces/IRewards.sol";
import {JobRecord} from "../types/JobRecord.sol";
import {Seats} from "../libraries/Seats.sol";
import {MarketSettlement} from "./MarketSettlement.sol";

/// @title MarketSeating
/// @notice Drawn seats: k >= 3 replicas and dispute juries are drawn from the registry's
///         stake-weighted sortition tree with randomness from a block after the job (or dispute)
///         was fixed. Controlling a share s of the eligible stake gives about s of the seats; being
///         first, or owning many cheap licences, gives nothing.
abstract contract MarketSeating is MarketSettlement {
    using Seats for mapping(uint256 => IJobMarketTypes.Replica);

    /// @notice Draws of a round after the first (unfilled seats, dropped seats), then the round's
    ///         deadline decides: nothing waits forever.
    uint256 public constant MAX_REDRAWS = 3;
    /// @notice Candidates tried per seat before it is left empty for a later draw.
    uint256 public constant MAX_DRAW_ATTEMPTS = 8;

    constructor(IERC20 token_, INodeRegistry registry_, IRewards rewards_)
        MarketSettlement(token_, registry_, rewards_)
    {}

    /// @dev The one source of randomness, so a VRF can replace it. The hash of a block mined after
    ///      the job (or dispute) was fixed: nobody knows it when the job is created. What remains:
    ///      the proposer of the anchor block may withhold it (losing its block reward) to re-roll,
    ///      once per block it proposes; see docs/protocol.md.
    function _randomness(uint256 anchorBlock) internal view virtual returns (bytes32) {
        return blockhash(anchorBlock);
    }

    /// @dev Fills the round's empty seats. A seat nobody eligible was found for stays empty, and a
    ///      new draw is anchored while the redraw budget lasts.
    function _drawSeats(uint256 jobId, JobRecord storage j, uint256 anchor, uint256 acceptWindow) internal {
        bytes32 rand = _randomness(anchor);
        if (rand == bytes32(0)) {
            // The anchor is more than 256 blocks old and its hash is gone: anchor on the next block.
            _anchor(jobId, j);
            return;
        }
        j.drawBlock = 0;
        uint256 changed = _registry.lastWeightChangeBlock();
        if (changed > anchor) {
            // Someone who knew the seed could have moved stake to steer it: draw from a new block.
            // Each such re-anchor spends the redraw budget, so forcing re-rolls is bounded.
            emit DrawStale(jobId, anchor, changed);
            _anchorRedraw(jobId, j);
            return;
        }
        uint40 acceptBy = uint40(_min(block.timestamp + acceptWindow, j.deadline));
        INodeRegistry.Capabilities memory need = j.requirements();
        while (j.seated < j.k) {
            (uint256 nodeId, address operator) = _drawEligible(jobId, j, rand, need);
            if (nodeId == 0) break;
            Replica storage seat = _seats[jobId][j.replicaCount];
            seat.nodeId = uint32(nodeId); // the registry's sortition tree only holds ids below 2^32
            seat.state = SeatState.Drawn;
            seat.round = j.round;
            seat.acceptDeadline = acceptBy;
            seat.operator = operator;
            ++j.replicaCount;
            ++j.seated;
            emit SeatDrawn(jobId, nodeId, j.round, acceptBy);
        }
        if (j.seated < j.k) {
            emit SeatsUnfilled(jobId, j.round, j.k - j.seated);
            _anchorRedraw(jobId, j);
        }
    }

    function _newRound(uint256 jobId, JobRecord storage j, uint256 seats) internal override {
        ++j.round;
        j.k = uint8(seats); // at most MAX_REPLICAS
        (j.claims, j.commits, j.reveals, j.seated, j.redraws) = (0, 0, 0, 0, 0);
        j.status = JobStatus.Seating;
        j.deadline = uint40(block.timestamp + j.claimWindow);
        _anchor(jobId, j);
    }

    function _anchor(uint256 jobId, JobRecord storage j) internal {
        uint40 next = uint40(block.number + 1);
        j.drawBlock = next;
        emit DrawAnchored(jobId, j.round, next);
    }

    /// @dev Anchors another draw while the round's redraw budget lasts; after that the round's
    ///      deadline decides (expire).
    function _anchorRedraw(uint256 jobId, JobRecord storage j) internal {
        if (j.redraws < MAX_REDRAWS && block.timestamp < j.deadline) {
            ++j.redraws;
            _anchor(jobId, j);
        }
    }

    /// @dev Stake-weighted candidates from the registry's sortition tree, skipping those that cannot
    ///      take this seat (requirements, free stake, already seated by node or operator). Bounded:
    ///      O(MAX_DRAW_ATTEMPTS * log n).
    function _drawEligible(uint256 jobId, JobRecord storage j, bytes32 rand, INodeRegistry.Capabilities memory need)
        private
        view
        returns (uint256 nodeId, address operator)
    {
        bytes32 base = keccak256(abi.encode(rand, jobId, j.round, j.replicaCount));
        for (uint256 attempt; attempt < MAX_DRAW_ATTEMPTS; ++attempt) {
            nodeId = _registry.drawNode(keccak256(abi.encode(base, attempt)));
            if (nodeId == 0) break;
            bool ok;
            (ok, operator) = _registry.canServe(nodeId, need, j.collateral);
            if (ok && !_seats[jobId].excludes(j.replicaCount, nodeId, operator)) return (nodeId, operator);
        }
        return (0, address(0));
    }
}
