/**
 * The Merkle tree's pure parts: canonical JSON, RFC 6962 hashes and proofs checked against the
 * reference test vectors of Certificate Transparency (the roots of the 8-leaf tree and the
 * proofs that Trillian's verifier tests use), and against the RFC's recursive definitions for
 * every tree up to 40 leaves, built the way the projection stores it (subtrees from a frontier).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson } from '../../src/domain/merkle/canonical-json.js';
import { verifyConsistency, verifyInclusion } from '../../src/domain/merkle/proof-check.js';
import { EMPTY_TREE_HASH, leafHash, nodeHash } from '../../src/domain/merkle/tree-hash.js';
import {
  consistencyRanges,
  Frontier,
  foldSubtrees,
  inclusionRanges,
  type LeafRange,
  splitPoint,
  subtreesOf,
} from '../../src/domain/merkle/tree-shape.js';

const hex = (b: Buffer) => b.toString('hex');
const dh = (h: string) => Buffer.from(h, 'hex');

const REFERENCE_LEAVES = [
  '',
  '00',
  '10',
  '2021',
  '3031',
  '40414243',
  '5051525354555657',
  '606162636465666768696a6b6c6d6e6f',
].map(dh);

/** MTH(D[n]) of the reference leaves, n = 0…8. */
const REFERENCE_ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

/** The RFC's recursive MTH, straight from its definition. */
function mth(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return EMPTY_TREE_HASH;
  if (leaves.length === 1) return leafHash(leaves[0]!);
  const k = splitPoint(leaves.length);
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** A tree as the projection keeps it: every subtree the frontier completes, by level and index. */
function storedTree(leaves: readonly Buffer[]) {
  const nodes = new Map<string, Buffer>();
  const frontier = Frontier.empty();
  for (const leaf of leaves)
    frontier.append(leafHash(leaf), (n) => nodes.set(`${n.level}:${n.index}`, n.hash));
  const rangeHash = (range: LeafRange) =>
    foldSubtrees(
      subtreesOf(range).map((s) => {
        const hash = nodes.get(`${s.level}:${s.index}`);
        assert.ok(hash, `subtree ${s.level}:${s.index} stored`);
        return hash;
      }),
    );
  return { frontier, rangeHash };
}

describe('canonical JSON (RFC 8785)', () => {
  it('sorts members by UTF-16 code units at every depth and drops undefined members', () => {
    assert.equal(
      canonicalJson({
        b: [3, { z: 1, a: null }],
        a: 'x',
        c: undefined,
        '\u{1f600}': 1,
        '\uffff': 2,
        é: true,
      }),
      '{"a":"x","b":[3,{"a":null,"z":1}],"é":true,"\u{1f600}":1,"\uffff":2}',
    );
  });

  it('writes strings and numbers as ECMAScript does', () => {
    assert.equal(canonicalJson('a"\\\n\u0001\u2028€'), '"a\\"\\\\\\n\\u0001\u2028€"');
    assert.equal(
      canonicalJson([1.0, -0, 1e21, 0.000001, 1e-7, 123456789012]),
      '[1,0,1e+21,0.000001,1e-7,123456789012]',
    );
  });

  it('refuses what JSON has not', () => {
    assert.throws(() => canonicalJson(Number.NaN), /NaN/);
    assert.throws(() => canonicalJson({ a: Number.POSITIVE_INFINITY }), /Infinity/);
    assert.throws(() => canonicalJson(1n), /bigint/);
  });
});

describe('the RFC 6962 tree', () => {
  it('gives the reference roots for 0 to 8 leaves', () => {
    const frontier = Frontier.empty();
    assert.equal(hex(frontier.root()), REFERENCE_ROOTS[0]);
    for (const [n, leaf] of REFERENCE_LEAVES.entries()) {
      frontier.append(leafHash(leaf));
      assert.equal(hex(frontier.root()), REFERENCE_ROOTS[n + 1], `root of ${n + 1} leaves`);
      assert.equal(hex(Frontier.of(frontier.size, frontier.edge()).root()), REFERENCE_ROOTS[n + 1]);
    }
  });

  it('gives the reference inclusion proofs', () => {
    const { rangeHash } = storedTree(REFERENCE_LEAVES);
    const cases: Array<[number, number, string[]]> = [
      [
        0,
        8,
        [
          '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
          '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
          '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
        ],
      ],
      [
        5,
        8,
        [
          'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
          'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
          'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
        ],
      ],
      [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
      [
        1,
        5,
        [
          '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
          '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
          'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
        ],
      ],
    ];
    for (const [index, size, expected] of cases) {
      const path = inclusionRanges(index, size).map(rangeHash);
      assert.deepEqual(path.map(hex), expected, `leaf ${index} of ${size}`);
      const leaf = leafHash(REFERENCE_LEAVES[index]!);
      assert.ok(verifyInclusion(index, size, leaf, path, dh(REFERENCE_ROOTS[size]!)));
    }
  });

  it('gives the reference consistency proofs', () => {
    const { rangeHash } = storedTree(REFERENCE_LEAVES);
    const cases: Array<[number, number, string[]]> = [
      [1, 1, []],
      [
        1,
        8,
        [
          '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
          '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
          '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
        ],
      ],
      [
        6,
        8,
        [
          '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
          'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
          'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
        ],
      ],
      [
        2,
        5,
        [
          '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
          'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
        ],
      ],
    ];
    for (const [first, second, expected] of cases) {
      const proof = consistencyRanges(first, second).map(rangeHash);
      assert.deepEqual(proof.map(hex), expected, `${first} → ${second}`);
      assert.ok(
        verifyConsistency(first, second, dh(REFERENCE_ROOTS[first]!), dh(REFERENCE_ROOTS[second]!), proof),
      );
    }
  });

  it('builds every proof from stored subtrees as the RFC defines it, for every tree up to 40 leaves', () => {
    const leaves = Array.from({ length: 40 }, (_, i) => Buffer.from(`leaf ${i}`));
    const { frontier, rangeHash } = storedTree(leaves);
    assert.equal(hex(frontier.root()), hex(mth(leaves)));
    for (let size = 1; size <= leaves.length; size += 1) {
      const root = mth(leaves.slice(0, size));
      assert.equal(hex(rangeHash({ start: 0, end: size })), hex(root), `root of ${size}`);
      for (let index = 0; index < size; index += 1) {
        const path = inclusionRanges(index, size).map(rangeHash);
        const leaf = leafHash(leaves[index]!);
        assert.ok(verifyInclusion(index, size, leaf, path, root), `leaf ${index} of ${size}`);
        // A proof proves nothing else: not another leaf, index, size or root.
        assert.equal(verifyInclusion(index, size, leafHash(Buffer.from('other')), path, root), false);
        if (size > 1) assert.equal(verifyInclusion((index + 1) % size, size, leaf, path, root), false);
        assert.equal(verifyInclusion(index, size * 2, leaf, path, root), false);
        assert.equal(verifyInclusion(index, size, leaf, [...path, root], root), false);
        if (path.length > 0) {
          assert.equal(verifyInclusion(index, size, leaf, path.slice(1), root), false);
          assert.equal(verifyInclusion(index, size, leaf, [EMPTY_TREE_HASH, ...path.slice(1)], root), false);
        }
      }
      for (let first = 1; first <= size; first += 1) {
        const firstRoot = mth(leaves.slice(0, first));
        const proof = consistencyRanges(first, size).map(rangeHash);
        assert.ok(verifyConsistency(first, size, firstRoot, root, proof), `${first} → ${size}`);
        if (first < size) {
          assert.equal(verifyConsistency(first, size, root, firstRoot, proof), false);
          assert.equal(verifyConsistency(first, size, EMPTY_TREE_HASH, root, proof), false);
          assert.equal(verifyConsistency(first, size, firstRoot, root, proof.slice(1)), false);
          assert.equal(verifyConsistency(first, size, firstRoot, root, [...proof, root]), false);
        }
      }
    }
  });

  it('refuses ranges no proof asks for, and frontiers of the wrong length', () => {
    assert.throws(() => subtreesOf({ start: 1, end: 3 }), /not one RFC 6962 subtree/);
    assert.throws(() => inclusionRanges(5, 5), /not in a tree of 5/);
    assert.throws(() => consistencyRanges(0, 5), /no consistency proof/);
    assert.throws(() => consistencyRanges(6, 5), /no consistency proof/);
    assert.throws(() => Frontier.of(3, [EMPTY_TREE_HASH]), /3 leaves has 2 frontier hashes/);
  });

  it('keeps its arithmetic exact past 2^31 leaves', () => {
    const size = 2 ** 40 + 5;
    assert.deepEqual(subtreesOf({ start: 0, end: size }), [
      { level: 40, index: 0 },
      { level: 2, index: 2 ** 38 },
      { level: 0, index: 2 ** 40 + 4 },
    ]);
    assert.equal(inclusionRanges(size - 1, size).length, 2);
    assert.equal(splitPoint(2 ** 53 - 1), 2 ** 52);
  });
});
