#!/usr/bin/env python3
"""Checks Sluice's tamper-evident log without Sluice: Python's standard library for the hashes
and proofs, and the `cryptography` package (python3-cryptography) for signatures only.
See docs/tamper-evidence.md.

  verify_log.py leaf EVENT.json
      the leaf hash of one event (an object as the psql query in the docs prints it)
  verify_log.py inclusion PROOF.json EVENT.json [HEAD.json]
      the proof (GET /api/v1/audit/proof/inclusion) leads from the event to the root,
      and that root is the head's (POST /api/v1/audit/tree-heads)
  verify_log.py consistency PROOF.json [FIRST-HEAD.json SECOND-HEAD.json]
      the proof (GET /api/v1/audit/proof/consistency) links its two roots, and they are the heads'
  verify_log.py head HEAD.json PUBLIC-KEY.pem
      the head's signature and key id (GET /api/v1/audit/log-key gives the key)
  verify_log.py root [PUBLIC-KEY.pem] < EVENTS.ndjson
      the root of all the events (one per line, in position order), and every TreeHeadSigned
      among them checked against the events before it (and its signature, given the key)

Exit status 0 when everything checks, 1 when something does not.
"""
import base64
import hashlib
import json
import sys


def canonical(value):
    """RFC 8785 canonical JSON (Sluice's events hold integers only, never fractions)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        raise ValueError("fractional numbers: see RFC 8785 section 3.2.2.3")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))  # UTF-16 code unit order
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical(value[k]) for k in keys) + "}"
    raise TypeError(f"not JSON: {type(value)}")


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(event):
    return sha256(b"\x00" + canonical(event).encode("utf-8"))


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def mth(leaves):
    """RFC 6962 section 2.1: the Merkle tree hash of a list of leaf hashes."""
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)  # the largest power of two below n
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def root_from_inclusion(index, size, leaf, path):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        raise ValueError("leaf index outside the tree")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ValueError("inclusion path too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ValueError("inclusion path too short")
    return r


def consistent(first, second, first_root, second_root, proof):
    """RFC 9162 section 2.1.4.2."""
    if first == second:
        return not proof and first_root == second_root
    if first < 1 or first > second:
        return False
    if first & (first - 1) == 0:  # a power of two: the first tree is its own first node
        proof = [first_root] + proof
    if not proof:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


def head_message(head):
    signed = {k: head[k] for k in ("lastPosition", "rootHash", "timestamp", "treeSize")}
    signed["version"] = "sluice-tree-head/1"
    return canonical(signed).encode("utf-8")


def check_head_signature(head, pem):
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

    key = load_pem_public_key(pem)
    key_id = hashlib.sha256(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).hexdigest()
    if key_id != head["keyId"]:
        return f"signed by key {head['keyId']}, not by this key ({key_id})"
    try:
        key.verify(base64.b64decode(head["signature"]), head_message(head))
    except Exception:
        return "the signature does not verify"
    return None


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def unhex(values):
    return [bytes.fromhex(v) for v in values]


def report(failures):
    for failure in failures:
        print("FAIL", failure)
    if not failures:
        print("OK")
    return 1 if failures else 0


def main(args):
    command = args[0] if args else ""
    if command == "leaf" and len(args) == 2:
        print(leaf_hash(load(args[1])).hex())
        return 0
    if command == "inclusion" and len(args) in (3, 4):
        proof, event = load(args[1]), load(args[2])
        failures = []
        leaf = leaf_hash(event)
        if leaf.hex() != proof["leafHash"]:
            failures.append(f"the event hashes to {leaf.hex()}, the proof is for {proof['leafHash']}")
        try:
            root = root_from_inclusion(proof["leafIndex"], proof["treeSize"], leaf, unhex(proof["auditPath"])).hex()
        except ValueError as error:
            root = str(error)
        if root != proof["rootHash"]:
            failures.append(f"the path leads to {root}, not to {proof['rootHash']}")
        if len(args) == 4:
            head = load(args[3])
            if (head["treeSize"], head["rootHash"]) != (proof["treeSize"], root):
                failures.append(f"the head signs {head['rootHash']} for {head['treeSize']} events")
        return report(failures)
    if command == "consistency" and len(args) in (2, 4):
        proof = load(args[1])
        failures = []
        first, second = proof["first"], proof["second"]
        first_root, second_root = bytes.fromhex(proof["firstRootHash"]), bytes.fromhex(proof["secondRootHash"])
        if not consistent(first, second, first_root, second_root, unhex(proof["proof"])):
            failures.append(f"the proof does not link the tree of {first} events to the tree of {second}")
        if len(args) == 4:
            for head, size, root in ((load(args[2]), first, first_root), (load(args[3]), second, second_root)):
                if (head["treeSize"], head["rootHash"]) != (size, root.hex()):
                    failures.append(f"the head of {head['treeSize']} events signs another root")
        return report(failures)
    if command == "head" and len(args) == 3:
        with open(args[2], "rb") as f:
            problem = check_head_signature(load(args[1]), f.read())
        return report([problem] if problem else [])
    if command == "root" and len(args) in (1, 2):
        pem = None
        if len(args) == 2:
            with open(args[1], "rb") as f:
                pem = f.read()
        events = [json.loads(line) for line in sys.stdin if line.strip()]
        leaves = [leaf_hash(e) for e in events]
        failures = []
        for event in events:
            if event["type"] != "TreeHeadSigned":
                continue
            head, where = event["data"], f"the head at position {event['position']}"
            size = head["treeSize"]
            if size > len(events):
                failures.append(f"{where} covers {size} events; there are {len(events)}")
            elif mth(leaves[:size]).hex() != head["rootHash"] or events[size - 1]["position"] != head["lastPosition"]:
                failures.append(f"{where} does not match the first {size} events")
            problem = pem and check_head_signature(head, pem)
            if problem:
                failures.append(f"{where}: {problem}")
        print(len(events), mth(leaves).hex())
        return report(failures)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
