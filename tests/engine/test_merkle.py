"""The Merkle log against the published transparency-dev/merkle vectors, and its properties."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import merkle
from engine.merkle import ProofError

VECTORS = Path(__file__).resolve().parent / "data" / "merkle"
INCLUSION = json.loads((VECTORS / "inclusion.json").read_text("utf-8"))
CONSISTENCY = json.loads((VECTORS / "consistency.json").read_text("utf-8"))


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def test_the_vectors_hold_good_and_mutated_cases():
    assert sum(not v["wantErr"] for v in INCLUSION) >= 5 and sum(v["wantErr"] for v in INCLUSION) >= 80
    assert sum(not v["wantErr"] for v in CONSISTENCY) >= 5 and sum(v["wantErr"] for v in CONSISTENCY) >= 80


@pytest.mark.parametrize("case", INCLUSION, ids=lambda c: c["file"].removeprefix("testdata/inclusion/"))
def test_inclusion_vector(case):
    def check():
        merkle.verify_inclusion(
            leaf=b64(case["leafHash"]),
            index=case["leafIdx"],
            size=case["treeSize"],
            proof=[b64(p) for p in case["proof"] or []],
            root_hash=b64(case["root"]),
        )

    if case["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


@pytest.mark.parametrize("case", CONSISTENCY, ids=lambda c: c["file"].removeprefix("testdata/consistency/"))
def test_consistency_vector(case):
    def check():
        merkle.verify_consistency(
            old_size=case["size1"],
            new_size=case["size2"],
            old_root=b64(case["root1"]),
            new_root=b64(case["root2"]),
            proof=[b64(p) for p in case["proof"] or []],
        )

    if case["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


# RFC 6962's reference tree of 8 leaves (the leaves the transparency-dev vectors are built from).
RFC_LEAVES = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")
]


def test_root_of_the_reference_tree_matches_the_vectors():
    hashes = [merkle.leaf_hash(leaf) for leaf in RFC_LEAVES]
    happy = next(c for c in INCLUSION if c["file"] == "testdata/inclusion/1/happy-path.json")
    assert merkle.root(hashes) == b64(happy["root"])
    assert hashes[0] == b64(happy["leafHash"])
    assert merkle.inclusion_proof(hashes, 0, 8) == [b64(p) for p in happy["proof"]]
    assert merkle.root([]) == hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT


def test_generated_proofs_equal_the_published_consistency_proofs():
    hashes = [merkle.leaf_hash(leaf) for leaf in RFC_LEAVES]
    for case in (c for c in CONSISTENCY if not c["wantErr"] and 0 < c["size1"] < c["size2"] <= 8):
        assert merkle.root(hashes, case["size1"]) == b64(case["root1"]), case["file"]
        assert merkle.consistency_proof(hashes, case["size1"], case["size2"]) == [b64(p) for p in case["proof"]]


def test_leaf_and_node_hashes_are_domain_separated():
    a, b = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    assert merkle.root([a, b]) == hashlib.sha256(b"\x01" + a + b).digest()
    assert a == hashlib.sha256(b"\x00a").digest()
    # A node must not pass for a leaf holding its children's hashes.
    assert merkle.leaf_hash(a + b) != merkle.node_hash(a, b)


def test_bad_arguments_to_the_generators_are_refused():
    hashes = [merkle.leaf_hash(bytes([i])) for i in range(4)]
    with pytest.raises(ValueError, match="leaf index 4"):
        merkle.inclusion_proof(hashes, 4, 4)
    with pytest.raises(ValueError, match="tree size 5"):
        merkle.root(hashes, 5)
    with pytest.raises(ValueError, match="old size"):
        merkle.consistency_proof(hashes, 0, 3)


def test_short_hashes_are_refused_with_a_message():
    leaf = merkle.leaf_hash(b"x")
    with pytest.raises(ProofError, match="proof hash 0 must be 32 bytes, not 3 bytes"):
        merkle.verify_inclusion(leaf=leaf, index=0, size=2, proof=[b"abc"], root_hash=leaf)


leaf_lists = st.lists(st.binary(max_size=8), min_size=1, max_size=70).map(
    lambda leaves: [merkle.leaf_hash(leaf) for leaf in leaves]
)


def _flip(proof: list[bytes], position: int, bit: int) -> list[bytes]:
    mutated = list(proof)
    item = bytearray(mutated[position])
    item[bit // 8] ^= 1 << (bit % 8)
    mutated[position] = bytes(item)
    return mutated


@given(hashes=leaf_lists, data=st.data())
def test_any_prefix_is_consistent_with_any_later_tree(hashes, data):
    new = data.draw(st.integers(1, len(hashes)), label="new size")
    old = data.draw(st.integers(1, new), label="old size")
    proof = merkle.consistency_proof(hashes, old, new)
    merkle.verify_consistency(
        old_size=old, new_size=new, old_root=merkle.root(hashes, old), new_root=merkle.root(hashes, new), proof=proof
    )
    if proof:
        mutated = _flip(proof, data.draw(st.integers(0, len(proof) - 1)), data.draw(st.integers(0, 255)))
        with pytest.raises(ProofError):
            merkle.verify_consistency(
                old_size=old,
                new_size=new,
                old_root=merkle.root(hashes, old),
                new_root=merkle.root(hashes, new),
                proof=mutated,
            )


@given(hashes=leaf_lists, data=st.data())
def test_a_rewritten_leaf_breaks_consistency_with_every_later_tree(hashes, data):
    new = data.draw(st.integers(2, max(2, len(hashes))), label="new size") if len(hashes) > 1 else None
    if new is None:
        return
    old = data.draw(st.integers(1, new - 1), label="old size")
    victim = data.draw(st.integers(0, old - 1), label="rewritten leaf")
    rewritten = list(hashes)
    rewritten[victim] = merkle.leaf_hash(b"forged" + hashes[victim])
    with pytest.raises(ProofError, match="rewritten"):
        merkle.verify_consistency(
            old_size=old,
            new_size=new,
            old_root=merkle.root(hashes, old),
            new_root=merkle.root(rewritten, new),
            proof=merkle.consistency_proof(rewritten, old, new),
        )


@given(hashes=leaf_lists, data=st.data())
def test_every_inclusion_proof_verifies_and_a_mutated_one_fails(hashes, data):
    size = data.draw(st.integers(1, len(hashes)), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = merkle.inclusion_proof(hashes, index, size)
    top = merkle.root(hashes, size)
    merkle.verify_inclusion(leaf=hashes[index], index=index, size=size, proof=proof, root_hash=top)
    if proof:
        mutated = _flip(proof, data.draw(st.integers(0, len(proof) - 1)), data.draw(st.integers(0, 255)))
        with pytest.raises(ProofError):
            merkle.verify_inclusion(leaf=hashes[index], index=index, size=size, proof=mutated, root_hash=top)
        with pytest.raises(ProofError):
            merkle.verify_inclusion(leaf=hashes[index], index=index, size=size, proof=proof[:-1], root_hash=top)
    if size > 1:
        other = (index + 1) % size
        if hashes[other] != hashes[index]:
            with pytest.raises(ProofError):
                merkle.verify_inclusion(leaf=hashes[index], index=other, size=size, proof=proof, root_hash=top)


# -- proofs from stored perfect subtrees ---------------------------------------


def _store_in_batches(hashes: list[bytes], cuts: list[int]) -> dict:
    """Seal ``hashes`` batch by batch (batches end at ``cuts``) as a store does, counting its older-node reads."""
    store: dict = {}
    size = 0
    for cut in [*sorted(set(cuts)), len(hashes)]:
        if cut <= size:
            continue

        def lookup(nodes, cut=cut):
            assert len(nodes) <= max(1, cut.bit_length()), "more than one older node per level"
            return {n: store[n] for n in nodes if n in store}

        store.update(merkle.completed_nodes(size, hashes[size:cut], lookup))
        size = cut
    return store


@given(hashes=leaf_lists, data=st.data())
def test_stored_subtrees_give_the_same_roots_and_proofs_as_the_naive_computation(hashes, data):
    cuts = data.draw(st.lists(st.integers(1, len(hashes)), max_size=6), label="batch ends")
    store = _store_in_batches(hashes, cuts)
    for (level, index), value in store.items():
        assert value == merkle.root(hashes[index << level : (index + 1) << level])
    reads: list[int] = []

    def lookup(nodes):
        reads.append(len(nodes))
        return {n: store[n] for n in nodes}

    size = data.draw(st.integers(1, len(hashes)), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    old = data.draw(st.integers(1, size), label="old size")
    assert merkle.root_from(lookup, size) == merkle.root(hashes, size)
    assert merkle.inclusion_proof_from(lookup, index, size) == merkle.inclusion_proof(hashes, index, size)
    assert merkle.consistency_proof_from(lookup, old, size) == merkle.consistency_proof(hashes, old, size)
    assert max(reads) <= 2 * size.bit_length() + 1  # O(log n) nodes, never the leaves


def test_stored_subtrees_reproduce_the_rfc_tree_and_its_consistency_vectors():
    hashes = [merkle.leaf_hash(leaf) for leaf in RFC_LEAVES]
    store = _store_in_batches(hashes, [3, 5])

    def lookup(nodes):
        return {n: store[n] for n in nodes}

    happy = next(c for c in INCLUSION if c["file"] == "testdata/inclusion/1/happy-path.json")
    assert merkle.root_from(lookup, 8) == b64(happy["root"])
    assert merkle.inclusion_proof_from(lookup, 0, 8) == [b64(p) for p in happy["proof"]]
    for case in (c for c in CONSISTENCY if not c["wantErr"] and c["size2"] <= 8 and c["size1"] > 0):
        assert merkle.consistency_proof_from(lookup, case["size1"], case["size2"]) == [
            b64(p) for p in case["proof"] or []
        ], case["file"]
    with pytest.raises(LookupError, match="no hash for subtree"):
        merkle.root_from(lambda nodes: {}, 8)
