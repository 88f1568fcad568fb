#!/usr/bin/env python3
# Independent check of a tabella-receipt/1 file, written from
# docs/verify-your-vote.md section 8 alone (no Tabella code): the key layout,
# the ICS23 IAVL existence proof against the header's app_hash, the ballot
# hash and the voter's ed25519 signature (steps 7 to 10).
#
# It does NOT check the header's commit signatures or the validator set
# (steps 3 to 6): use a CometBFT light client, or `tabella receipt verify`.
# It also does not apply every IAVL-spec check that ics23.VerifyMembership
# applies to the leaf and inner ops. An example, not a complete verifier.
#
# Needs Python 3 and the `cryptography` package.
# Usage: python3 verify-receipt.py RECEIPT.json
import base64, hashlib, json, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

def varint(b, i):
    n = s = 0
    while True:
        c = b[i]; i += 1
        n |= (c & 0x7f) << s; s += 7
        if c < 0x80: return n, i

def fields(b):
    i, out = 0, []
    while i < len(b):
        tag, i = varint(b, i)
        num, wt = tag >> 3, tag & 7
        if wt == 0: v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i); v = b[i:i+n]; i += n
        else: raise ValueError("wire type %d" % wt)
        out.append((num, v))
    return out

def one(fs, n, d=b""):
    v = [x for k, x in fs if k == n]
    return v[-1] if v else d

def enc_varint(n):
    out = bytearray()
    while True:
        c = n & 0x7f; n >>= 7
        out.append(c | (0x80 if n else 0))
        if not n: return bytes(out)

sha = lambda b: hashlib.sha256(b).digest()
r = json.load(open(sys.argv[1]))
key, value = bytes.fromhex(r["key"]), base64.b64decode(r["value"])
proof = base64.b64decode(r["proof"])
app_hash = bytes.fromhex(r["signed_header"]["header"]["app_hash"])
assert int(r["signed_header"]["header"]["height"]) == r["height"] + 1

# key layout
voter = bytes.fromhex(r["voter"])
assert key == b"b/" + r["initiative_id"].encode() + b"/" + voter, "key layout"

# ICS23 existence proof, IAVL spec (leaf: prefix || varint(len k) || k || varint(32) || sha256(v))
ex = fields(one(fields(proof), 1))
assert one(ex, 1) == key and one(ex, 2) == value
leaf = fields(one(ex, 3))
assert one(leaf, 1, 0) == 1 and one(leaf, 2, 0) == 0 and one(leaf, 3, 0) == 1 and one(leaf, 4, 0) == 1
h = sha(one(leaf, 5) + enc_varint(len(key)) + key + enc_varint(32) + sha(value))
for k, inner in ex:
    if k != 4: continue
    op = fields(inner)
    assert one(op, 1, 0) == 1
    h = sha(one(op, 2) + h + one(op, 3))
assert h == app_hash, "root %s != app hash %s" % (h.hex(), app_hash.hex())

# BallotRecord
rec = fields(value)
assert one(rec, 1).decode() == r["initiative_id"] and one(rec, 2) == voter
tx = one(rec, 8)
assert sha(tx) == one(rec, 6) == bytes.fromhex(r["ballot_hash"]), "ballot hash"
txf = fields(tx)
body = one(txf, 1)
sig = fields(one(txf, 2))
pub, signature = one(sig, 1), one(sig, 2)
assert pub == voter
bodyf = fields(body)
chain_id = one(bodyf, 1).decode()
assert chain_id == r["chain_id"]
Ed25519PublicKey.from_public_bytes(pub).verify(signature, b"tabella/v1" + chain_id.encode() + body)
cb = fields(one(bodyf, 10))

def packed(fs, n):
    out = []
    for k, v in fs:
        if k != n: continue
        if isinstance(v, int): out.append(v); continue
        i = 0
        while i < len(v):
            x, i = varint(v, i); out.append(x)
    return out

assert one(cb, 1).decode() == r["initiative_id"], "signed initiative"
assert one(cb, 4, 0) == one(rec, 3, 0), "signed sequence"
assert packed(cb, 3) == packed(rec, 4), "signed selections"
assert one(rec, 3, 0) == r["sequence"], "receipt sequence differs from the record"
assert one(rec, 7, 0) == r["ballot_height"], "receipt ballot_height differs from the record"
print("OK: key, ICS23 root = app_hash of header %s, ballot_hash = SHA-256(tx), voter signature;"
      " sequence %d, selections %s, recorded at height %d"
      % (r["signed_header"]["header"]["height"], one(rec, 3, 0), packed(rec, 4), one(rec, 7, 0)))
