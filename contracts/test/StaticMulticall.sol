// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @notice Test-only: runs many view calls in one `eth_call`, so the stateful invariant test can
///         read every balance and record it checks after each step at the cost of a single call.
contract StaticMulticall {
    error StaticMulticallFailed(uint256 index, bytes reason);

    /// @notice `results[i]` is the return data of `targets[i].staticcall(calls[i])`.
    function read(address[] calldata targets, bytes[] calldata calls) external view returns (bytes[] memory results) {
        results = new bytes[](calls.length);
        for (uint256 i; i < calls.length; ++i) {
            (bool ok, bytes memory ret) = targets[i].staticcall(calls[i]);
            if (!ok) revert StaticMulticallFailed(i, ret);
            results[i] = ret;
        }
    }
}
