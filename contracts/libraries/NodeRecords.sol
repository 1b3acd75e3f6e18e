// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {INodeRegistry} from "../interfaces/INodeRegistry.sol";

/// @title Packed node records of the registry
/// @notice The storage layout of one node and the bookkeeping on it that does not move value:
///         capabilities, the capability match, saturating work counters and the external view.
library NodeRecords {
    /// @dev One node, three slots. Slot 0: who acts and what it has (read by every claim).
    ///      Slot 1: bond, lien, status and work counters (read and written by every claim and
    ///      release). Slot 2: unbonding and slashing (rare paths). Counters saturate instead of
    ///      reverting so that settlement can never be blocked by them; `failed` is 24 bits so that
    ///      slot 1 fits in 256 bits.
    struct NodeRecord {
        // slot 0
        address operator;
        uint16 cpuCores;
        uint32 memoryMb;
        uint8 gpuCount;
        uint32 gpuMemoryMb;
        uint8 gpuClass;
        // slot 1
        uint96 stake;
        uint96 locked;
        INodeRegistry.NodeStatus status;
        uint32 completed;
        uint24 failed;
        // slot 2
        uint96 unbonding;
        uint40 unbondingReleaseAt;
        uint40 jailedUntil;
        uint32 slashed;
    }

    /// @notice Stores the declared hardware of `nodeId` and emits `CapabilitiesDeclared`.
    function declare(NodeRecord storage n, uint256 nodeId, INodeRegistry.Capabilities calldata c) internal {
        n.cpuCores = c.cpuCores;
        n.memoryMb = c.memoryMb;
        n.gpuCount = c.gpuCount;
        n.gpuMemoryMb = c.gpuMemoryMb;
        n.gpuClass = c.gpuClass;
        emit INodeRegistry.CapabilitiesDeclared(nodeId, c.cpuCores, c.memoryMb, c.gpuCount, c.gpuMemoryMb, c.gpuClass);
    }

    /// @notice Whether the node's hardware meets `need` in every field (the rule of `lockForClaim`,
    ///         `canServe` and `meets`).
    function meets(NodeRecord storage n, INodeRegistry.Capabilities calldata need) internal view returns (bool) {
        return n.cpuCores >= need.cpuCores && n.memoryMb >= need.memoryMb && n.gpuCount >= need.gpuCount
            && n.gpuMemoryMb >= need.gpuMemoryMb && n.gpuClass >= need.gpuClass;
    }

    /// @notice Counts the outcome of `replicas` released replicas (saturating).
    function countOutcome(NodeRecord storage n, INodeRegistry.Outcome outcome, uint256 replicas) internal {
        if (outcome == INodeRegistry.Outcome.Completed) {
            n.completed = uint32(_saturating(n.completed, replicas, type(uint32).max));
        } else if (outcome == INodeRegistry.Outcome.Failed) {
            n.failed = uint24(_saturating(n.failed, replicas, type(uint24).max));
        }
    }

    /// @dev `count + more`, or `max` if that is larger (a counter stops at its width's maximum).
    function _saturating(uint256 count, uint256 more, uint256 max) private pure returns (uint256) {
        return more >= max - count ? max : count + more;
    }

    /// @notice Counts a slash (saturating).
    function countSlash(NodeRecord storage n) internal {
        uint32 s = n.slashed;
        if (s != type(uint32).max) {
            unchecked {
                // below the max, checked just above
                n.slashed = s + 1;
            }
        }
    }

    /// @notice The record in the interface's shape.
    function toView(NodeRecord storage n) internal view returns (INodeRegistry.Node memory) {
        return INodeRegistry.Node({
            operator: n.operator,
            status: n.status,
            jailedUntil: n.jailedUntil,
            capabilities: INodeRegistry.Capabilities({
                cpuCores: n.cpuCores,
                memoryMb: n.memoryMb,
                gpuCount: n.gpuCount,
                gpuMemoryMb: n.gpuMemoryMb,
                gpuClass: n.gpuClass
            }),
            stake: n.stake,
            locked: n.locked,
            unbonding: n.unbonding,
            unbondingReleaseAt: n.unbondingReleaseAt,
            completed: n.completed,
            failed: n.failed,
            slashed: n.slashed
        });
    }
}
