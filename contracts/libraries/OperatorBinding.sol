// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {NodeRecords} from "./NodeRecords.sol";

/// @title Two-step operator binding
/// @notice The licence owner proposes a key; the key becomes the node's operator only when it
///         accepts, so an owner cannot enlist someone else's node software (and its gas, and its
///         reputation) without consent. Accepting replaces any current key at once (key rotation).
/// @dev    The bound operator lives in the node record (slot 0, read by every claim); proposals
///         live in a separate mapping, read only by `accept`.
library OperatorBinding {
    /// @notice Records `operator` as the pending key of `nodeId`, replacing any earlier proposal.
    ///         The current operator (if any) stays bound.
    function propose(mapping(uint256 => address) storage pending, uint256 nodeId, address operator) internal {
        if (operator == address(0)) revert INodeRegistry.NodeRegistryInvalidAddress();
        pending[nodeId] = operator;
        emit INodeRegistry.OperatorProposed(nodeId, operator);
    }

    /// @notice `msg.sender`, the pending key, becomes the operator of `nodeId`; the proposal is
    ///         consumed and any previous key unbound.
    function accept(mapping(uint256 => address) storage pending, NodeRecords.NodeRecord storage n, uint256 nodeId)
        internal
    {
        if (pending[nodeId] != msg.sender) revert INodeRegistry.NodeRegistryNotPendingOperator(nodeId, msg.sender);
        delete pending[nodeId];
        address previous = n.operator;
        n.operator = msg.sender;
        if (previous != address(0) && previous != msg.sender) emit INodeRegistry.OperatorUnbound(nodeId, previous);
        emit INodeRegistry.OperatorBound(nodeId, msg.sender);
    }

    /// @notice Unbinds the operator and drops any pending proposal (the licence changed hands).
    function clear(mapping(uint256 => address) storage pending, NodeRecords.NodeRecord storage n, uint256 nodeId)
        internal
    {
        delete pending[nodeId];
        address previous = n.operator;
        if (previous != address(0)) {
            n.operator = address(0);
            emit INodeRegistry.OperatorUnbound(nodeId, previous);
        }
    }
}
