// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IJobMarket, IJobMarketTypes} from "../interfaces/IJobMarket.sol";

/// @title Seats
/// @notice A job's seats (both rounds, dropped ones included) in the order they were taken or
///         drawn. A job has at most a few dozen seats, so linear scans are bounded and cheap.
library Seats {
    /// @notice Whether the seat holds collateral: accepted, committed or revealed.
    function holdsCollateral(IJobMarketTypes.Replica storage seat) internal view returns (bool) {
        IJobMarketTypes.SeatState s = seat.state;
        return s == IJobMarketTypes.SeatState.Claimed || s == IJobMarketTypes.SeatState.Committed
            || s == IJobMarketTypes.SeatState.Revealed;
    }

    /// @notice The live (not dropped) seat of `nodeId`, if any.
    function find(mapping(uint256 => IJobMarketTypes.Replica) storage seats, uint256 count, uint256 nodeId)
        internal
        view
        returns (IJobMarketTypes.Replica storage seat, bool found)
    {
        for (uint256 i; i < count; ++i) {
            seat = seats[i];
            if (seat.nodeId == nodeId && seat.state != IJobMarketTypes.SeatState.Dropped) return (seat, true);
        }
        return (seats[count], false);
    }

    /// @notice Whether `nodeId` or `operator` already sat in this job, in any round, dropped or not:
    ///         one machine never fills two seats of a quorum, judges its own result, or is redrawn
    ///         into the seat it just failed to accept.
    function excludes(
        mapping(uint256 => IJobMarketTypes.Replica) storage seats,
        uint256 count,
        uint256 nodeId,
        address operator
    ) internal view returns (bool) {
        for (uint256 i; i < count; ++i) {
            IJobMarketTypes.Replica storage seat = seats[i];
            if (seat.nodeId == nodeId || seat.operator == operator) return true;
        }
        return false;
    }

    /// @notice The most-revealed result among the seats of `round`, its votes, and how many seats of
    ///         the round revealed at all (ties: the first seen; the caller requires a strict majority).
    function majority(mapping(uint256 => IJobMarketTypes.Replica) storage seats, uint256 count, uint8 round)
        internal
        view
        returns (bytes32 best, uint256 votes, uint256 revealed)
    {
        for (uint256 i; i < count; ++i) {
            IJobMarketTypes.Replica storage a = seats[i];
            if (a.round != round || a.state != IJobMarketTypes.SeatState.Revealed) continue;
            ++revealed;
            uint256 n = 0;
            for (uint256 m = i; m < count; ++m) {
                IJobMarketTypes.Replica storage b = seats[m];
                if (b.round == round && b.state == IJobMarketTypes.SeatState.Revealed && b.commitment == a.commitment) ++n;
            }
            if (n > votes) (best, votes) = (a.commitment, n);
        }
    }

    /// @notice Whether a seat of rounds `from`..`to` revealed exactly `result`.
    function agrees(IJobMarketTypes.Replica storage seat, uint8 from, uint8 to, bytes32 result)
        internal
        view
        returns (bool)
    {
        uint8 round = seat.round;
        return round >= from && round <= to && seat.state == IJobMarketTypes.SeatState.Revealed
            && seat.commitment == result;
    }
}
