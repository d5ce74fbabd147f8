/**
 * The Merkle tree over the event log (src/projections/merkle-tree.ts): each event's leaf hash
 * by leaf index and global position, every complete subtree above the leaves (what proofs are
 * built from, never re-hashed per request), and the frontier an append starts from.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE merkle_leaves (
      leaf_index bigint NOT NULL,
      global_position bigint NOT NULL,
      hash bytea NOT NULL,
      CONSTRAINT merkle_leaves_pkey PRIMARY KEY (leaf_index),
      CONSTRAINT merkle_leaves_position_key UNIQUE (global_position)
    )`.execute(db);
  await sql`
    CREATE TABLE merkle_nodes (
      level smallint NOT NULL,
      node_index bigint NOT NULL,
      hash bytea NOT NULL,
      CONSTRAINT merkle_nodes_pkey PRIMARY KEY (level, node_index)
    )`.execute(db);
  await sql`
    CREATE TABLE merkle_frontier (
      id smallint NOT NULL,
      tree_size bigint NOT NULL,
      last_position bigint NOT NULL,
      hashes bytea[] NOT NULL,
      CONSTRAINT merkle_frontier_pkey PRIMARY KEY (id),
      CONSTRAINT merkle_frontier_one_row CHECK (id = 1)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE merkle_frontier`.execute(db);
  await sql`DROP TABLE merkle_nodes`.execute(db);
  await sql`DROP TABLE merkle_leaves`.execute(db);
}
