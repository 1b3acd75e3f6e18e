// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {IJobMarket, IJobMarketTypes} from "../interfaces/IJobMarket.sol";
import {INodeRegistry} from "../interfaces/INodeRegistry.sol";
import {IRewards} from "../interfaces/IRewards.sol";
import {JobRecord} from "../types/JobRecord.sol";
import {JobSlot} from "../types/JobSlot.sol";
import {Seats} from "../libraries/Seats.sol";
import {MarketSeating} from "./MarketSeating.sol";

/// @title MarketProofs
/// @notice Who vouches for a completion: a batch of them under one EIP-712 signature by the key
///         that operates every item's node (see {IJobMarket-ProofBatch}), the commitment each
///         completion carries, and what it does to the job (a one-slot k = 1 job or a seat).
abstract contract MarketProofs is IJobMarket, MarketSeating {
    using Seats for mapping(uint256 => Replica);

    bytes32 public constant COMPLETION_TYPEHASH =
        keccak256("Completion(uint256 jobId,uint256 nodeId,bytes32 commitment)");
    bytes32 public constant PROOF_BATCH_TYPEHASH =
        keccak256("ProofBatch(Completion[] items)Completion(uint256 jobId,uint256 nodeId,bytes32 commitment)");

    bytes32 public constant QUOTE_TYPEHASH =
        keccak256("Quote(bytes32 request,address client,uint256 nonce,uint256 nodeId,uint256 expiry)");

    // EIP-712 domain ("TES JobMarket", "1", chainId, this), kept by hand rather than through
    // OpenZeppelin's EIP712: its ERC-5267 view alone would push the market past the 24 KB limit.
    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private immutable _cachedDomain;
    uint256 private immutable _cachedChainId;

    constructor(IERC20 token_, INodeRegistry registry_, IRewards rewards_) MarketSeating(token_, registry_, rewards_) {
        _cachedChainId = block.chainid;
        _cachedDomain = _buildDomain();
    }

    /// @inheritdoc IJobMarket
    function proofDigest(Completion[] calldata items) public view returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](items.length);
        for (uint256 i; i < items.length; ++i) {
            hashes[i] = keccak256(abi.encode(COMPLETION_TYPEHASH, items[i].jobId, items[i].nodeId, items[i].commitment));
        }
        bytes32 structHash = keccak256(abi.encode(PROOF_BATCH_TYPEHASH, keccak256(abi.encodePacked(hashes))));
        return MessageHashUtils.toTypedDataHash(_domainSeparator(), structHash);
    }

    /// @inheritdoc IJobMarket
    function quoteDigest(JobRequest calldata request, address client, uint256 nonce, uint256 nodeId, uint256 expiry)
        public
        view
        returns (bytes32)
    {
        bytes32 structHash =
            keccak256(abi.encode(QUOTE_TYPEHASH, keccak256(abi.encode(request)), client, nonce, nodeId, expiry));
        return MessageHashUtils.toTypedDataHash(_domainSeparator(), structHash);
    }

    /// @inheritdoc IJobMarket
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparator();
    }

    /// @inheritdoc IJobMarket
    function commitmentOf(uint256 jobId, uint256 nodeId, bytes32 resultHash, bytes32 salt)
        public
        pure
        returns (bytes32)
    {
        return _commitmentOf(jobId, nodeId, resultHash, salt);
    }

    /// @dev Who vouches for a batch: an operator sending its own proofs needs no signature.
    function _batchSigner(ProofBatch calldata batch) internal view returns (address signer) {
        if (batch.signature.length == 0) return msg.sender;
        // The third value only details why a malformed signature failed; it is rejected either way.
        // slither-disable-next-line unused-return
        (address recovered, ECDSA.RecoverError recoverError,) = ECDSA.tryRecover(proofDigest(batch.items), batch.signature);
        // A malformed signature vouches for nobody: every item then fails the operator check.
        signer = recoverError == ECDSA.RecoverError.NoError ? recovered : address(0);
    }

    /// @dev Who offered the quote: address 0 for a malformed signature, which operates no node.
    function _quoteSigner(JobRequest calldata request, uint256 nonce, Quote calldata quote)
        internal
        view
        returns (address signer)
    {
        bytes32 digest = quoteDigest(request, msg.sender, nonce, quote.nodeId, quote.expiry);
        // The third value only details why a malformed signature failed; it is rejected either way.
        // slither-disable-next-line unused-return
        (address recovered, ECDSA.RecoverError recoverError,) = ECDSA.tryRecover(digest, quote.signature);
        signer = recoverError == ECDSA.RecoverError.NoError ? recovered : address(0);
    }

    /// @dev The batch's key must be the item's node's operator now: a key rotation hands every
    ///      seat the node holds to the new key. A forged batch reverts whole.
    function _checkOperator(Completion calldata item, address signer) internal view {
        address operator = _registry.operatorOf(item.nodeId);
        if (signer != operator || signer == address(0)) {
            revert JobMarketInvalidSignature(item.jobId, item.nodeId, signer, operator);
        }
    }

    function _commit(uint256 jobId, JobRecord storage j, Replica storage seat, bytes32 commitment) private {
        seat.state = SeatState.Committed;
        emit ProofAccepted(jobId, seat.nodeId, commitment, msg.sender);
        seat.commitment = commitment;
        uint8 commits = j.commits + 1;
        j.commits = commits;
        if (commits == j.k) _startReveal(jobId, j);
    }

    /// @dev One item of a proof batch whose signer operates its node: committed, or skipped with
    ///      an event when the job moved on (a stale item must not revert the rest of the batch).
    function _prove(Completion calldata item) internal {
        JobSlot s = _slots[item.jobId];
        if (s.status() != JobStatus.None) return _proveSlot(item, s);
        JobRecord storage j = _job(item.jobId);
        (Replica storage seat, bool found) = _seats[item.jobId].find(j.replicaCount, item.nodeId);
        if (!found) revert JobMarketNotReplica(item.jobId, item.nodeId);
        if (j.status != JobStatus.Running) {
            emit ProofSkipped(item.jobId, item.nodeId, SkipReason.WrongStatus);
        } else if (block.timestamp > j.deadline) {
            emit ProofSkipped(item.jobId, item.nodeId, SkipReason.DeadlinePassed);
        } else if (seat.state != SeatState.Claimed || seat.round != j.round) {
            emit ProofSkipped(item.jobId, item.nodeId, SkipReason.WrongSeatState);
        } else {
            _commit(item.jobId, j, seat, item.commitment);
        }
    }

    /// @dev `_prove` for a one-slot k = 1 job. Optimistic mode: the commitment stands unless
    ///      disputed in time; the result hash itself stays with the node and the client until a
    ///      dispute makes it public.
    function _proveSlot(Completion calldata item, JobSlot s) private {
        if (s.nodeId() != item.nodeId) revert JobMarketNotReplica(item.jobId, item.nodeId);
        if (s.status() != JobStatus.Running) {
            emit ProofSkipped(item.jobId, item.nodeId, SkipReason.WrongStatus);
        } else if (block.timestamp > s.time()) {
            emit ProofSkipped(item.jobId, item.nodeId, SkipReason.DeadlinePassed);
        } else {
            JobSlot p = s.proven(item.commitment, block.timestamp);
            _slots[item.jobId] = p;
            emit ResultAccepted(item.jobId, item.commitment, p.time());
        }
    }

    function _domainSeparator() private view returns (bytes32) {
        // A fork changes the chain id: rebuild, so a proof for one chain never verifies on the other.
        return block.chainid == _cachedChainId ? _cachedDomain : _buildDomain();
    }

    function _buildDomain() private view returns (bytes32) {
        return keccak256(abi.encode(_DOMAIN_TYPEHASH, keccak256("TES JobMarket"), keccak256("1"), block.chainid, address(this)));
    }
}
