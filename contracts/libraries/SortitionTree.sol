// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title Stake-weighted sortition over a Fenwick (binary indexed) tree
/// @notice Draws an index with probability weight(index) / total, in O(log n) storage reads;
///         changing one weight costs O(log n) storage writes.
/// @dev    Why a Fenwick tree: the candidates are keyed by small sequential ids (licence token
///         ids start at 1), so the tree can be a flat 1-based array (a mapping) with no pointers,
///         no node allocation and no rebalancing. `nodes[i]` holds the sum of the leaves in
///         (i - lowbit(i), i], where lowbit(i) = i & -i. Hence:
///         - `set` walks i, i + lowbit(i), ... up to `capacity` adding the delta: log2(capacity)
///           writes at most;
///         - with `capacity` a power of two, `nodes[capacity]` covers (0, capacity]: the total,
///           read in one SLOAD;
///         - `draw` descends from the top: at each power of two `step` it asks "does the block of
///           `step` leaves right after `pos` sum to at most the remaining target?" in one read,
///           so it finds the leaf in log2(capacity) reads without computing any prefix sum.
///         Growth: the capacity doubles when an index beyond it appears. Doubling C -> 2C only
///         needs nodes[2C] = nodes[C]: node 2C covers (0, 2C] whose upper half is all zero, and
///         every other new node (C, 2C) covers only new, zero leaves.
///         Each leaf's current weight is stored too, so that callers pass absolute weights and the
///         tree applies the difference (a caller cannot drift the sums with a wrong delta).
///         The idea of a stake-weighted sum tree for juror drawing comes from Kleros'
///         sortition-sum-tree; this is an independent implementation on a Fenwick layout.
library SortitionTree {
    /// @notice Largest index the tree accepts: keeps `draw` at 32 iterations at most.
    uint256 internal constant MAX_INDEX = type(uint32).max;

    /// @notice `index` is 0 or above `MAX_INDEX`.
    error SortitionTreeIndexOutOfRange(uint256 index);

    struct Tree {
        /// @dev 0 while empty, then a power of two >= every index ever given a nonzero weight.
        uint256 capacity;
        /// @dev Fenwick array, 1-based: nodes[i] = sum of the leaves in (i - lowbit(i), i].
        mapping(uint256 index => uint256) nodes;
        /// @dev Current weight of each leaf.
        mapping(uint256 index => uint256) leaves;
    }

    /// @notice Sets the weight of `index` to `weight`. Returns false (and writes nothing) when it
    ///         already had that weight. Reverts for a nonzero weight at index 0 or past MAX_INDEX.
    function set(Tree storage self, uint256 index, uint256 weight) internal returns (bool changed) {
        uint256 old = self.leaves[index];
        // a zero weight for a leaf that is (and, out of range, always stays) zero is a no-op
        if (old == weight) return false;
        if (index == 0 || index > MAX_INDEX) revert SortitionTreeIndexOutOfRange(index);
        self.leaves[index] = weight;
        uint256 capacity = _grow(self, index);
        if (weight > old) {
            uint256 delta = weight - old;
            for (uint256 i = index; i <= capacity; i += _lowbit(i)) {
                self.nodes[i] += delta;
            }
        } else {
            uint256 delta = old - weight;
            for (uint256 i = index; i <= capacity; i += _lowbit(i)) {
                // every node on the path covers `index`, so it holds at least `old` >= delta
                self.nodes[i] -= delta;
            }
        }
        return true;
    }

    /// @notice Sum of all weights.
    function total(Tree storage self) internal view returns (uint256) {
        return self.nodes[self.capacity];
    }

    /// @notice Weight of `index` (0 if never set).
    function weightOf(Tree storage self, uint256 index) internal view returns (uint256) {
        return self.leaves[index];
    }

    /// @notice The index i with prefix(i - 1) <= r % total < prefix(i), where prefix(i) is the sum
    ///         of the weights of 1..i: each index is drawn for weight(i) of every `total` values
    ///         of r, and an index of weight 0 never. Returns 0 when the total is 0.
    function draw(Tree storage self, uint256 r) internal view returns (uint256) {
        uint256 capacity = self.capacity;
        uint256 sum = self.nodes[capacity];
        if (sum == 0) return 0;
        uint256 target = r % sum;
        // Invariant: prefix(pos) <= target (r's leaf is after pos). The sum of leaves
        // (pos, pos + step] is nodes[pos + step], because pos is a multiple of 2 * step.
        uint256 pos = 0;
        for (uint256 step = capacity >> 1; step != 0; step >>= 1) {
            uint256 below = self.nodes[pos + step];
            if (below <= target) {
                pos += step;
                target -= below;
            }
        }
        // prefix(pos) <= r % total < prefix(pos + 1); pos + 1 <= capacity since prefix(capacity) = total
        return pos + 1;
    }

    /// @dev Doubles the capacity until it covers `index`; returns the capacity.
    function _grow(Tree storage self, uint256 index) private returns (uint256 capacity) {
        capacity = self.capacity;
        if (index <= capacity) return capacity;
        if (capacity == 0) capacity = 1; // nodes[1] covers leaf 1 alone: 0 so far
        uint256 sum = self.nodes[capacity];
        while (capacity < index) {
            capacity <<= 1;
            // the new top covers the old tree plus zero leaves; other new nodes cover only zeros
            if (sum != 0) self.nodes[capacity] = sum;
        }
        self.capacity = capacity;
    }

    /// @dev Lowest set bit of `i` (i & -i in two's complement).
    function _lowbit(uint256 i) private pure returns (uint256) {
        unchecked {
            return i & (0 - i);
        }
    }
}
