// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test-only: stands in for the node registry and records licence transfer notifications.
contract MockLicenceRegistry {
    struct Call {
        address caller;
        uint256 nodeId;
        address oldOwner;
        address newOwner;
    }

    event LicenceTransferNotified(address indexed caller, uint256 indexed nodeId, address from, address to);

    Call[] private _calls;

    function onLicenceTransfer(uint256 nodeId, address from, address to) external {
        _calls.push(Call(msg.sender, nodeId, from, to));
        emit LicenceTransferNotified(msg.sender, nodeId, from, to);
    }

    function callCount() external view returns (uint256) {
        return _calls.length;
    }

    function calls(uint256 i) external view returns (Call memory) {
        return _calls[i];
    }
}
