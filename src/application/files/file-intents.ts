/**
 * Changes made through intents, so that the disk and the event log agree whatever moment the
 * server stops at (docs/recording.md):
 *
 * 1. a note of the change is made durable in `MFT_DATA_DIR/intents`;
 * 2. the change is made so that it can be undone (a deleted file is moved into the intents
 *    folder, which no user path reaches; a file a rename replaces is kept there too);
 * 3. the change's event is appended to a stream of its own, `file-<intentId>`;
 * 4. the change is finished (the staged copy removed) and the note dropped.
 *
 * A note left behind is settled by its stream: the change's event there means finish it; none
 * means `FileChangeUndone` is appended first (no stream expected, so the change's own event can
 * never land after it) and the change is put back. The stream holds exactly one of the two.
 */
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { type EventStore, WrongExpectedRevision } from '../../domain/event-store.js';
import { toNewEvent } from '../../domain/events/catalogue.js';
import { type EventMetadata, EventMetadataSchema } from '../../domain/events/envelope.js';
import { fileStream } from '../../domain/events/file-events.js';
import { Text, Uuid } from '../../domain/events/schema-helpers.js';
import {
  type ChangeFacts,
  changeDone,
  changeUndone,
  type FileChange,
  type FileChangeKind,
  FileChangeSchema,
} from '../../domain/files/file-changes.js';

const IntentNoteSchema = Type.Object(
  {
    intentId: Uuid,
    homeFolder: Text(4096, 1),
    change: FileChangeSchema,
    /** Who asked for it: the metadata of the event that records it, done or undone. */
    metadata: EventMetadataSchema,
  },
  { additionalProperties: false },
);
const noteChecker = TypeCompiler.Compile(IntentNoteSchema);

export interface IntentNote {
  readonly intentId: string;
  readonly homeFolder: string;
  readonly change: FileChange;
  readonly metadata: EventMetadata;
}

/** Durable notes of changes begun (src/adapters/storage/intent-journal.ts). */
export interface IntentJournal {
  /** Resolves once the note is on disk (synced). */
  write(note: IntentNote): Promise<void>;
  remove(intentId: string): Promise<void>;
  /** The notes left, as read from disk (checked here); unreadable ones as null, with their id. */
  pending(): Promise<Array<{ intentId: string; note: unknown }>>;
}

/** What storage does for each step of a change (src/adapters/storage/local-disk.ts). */
export interface ChangeStorage {
  home(homeFolder: string): Promise<string>;
  /** Makes the change so that `undoChange` can put it back; on failure nothing is changed. */
  applyChange(home: string, change: FileChange, intentId: string): Promise<ChangeFacts>;
  /** After the change was recorded: drops what was kept for an undo. Idempotent. */
  finishChange(home: string, change: FileChange, intentId: string): Promise<void>;
  /**
   * Puts back whatever part of the change was made (none, some or all of it). Idempotent.
   * Returns what could not be put back, if anything.
   */
  undoChange(home: string, change: FileChange, intentId: string): Promise<string | undefined>;
}

/** The moments a test may stop the process at (MFT_TEST_CRASH_AT). */
export const CRASH_STEPS = ['after-intent', 'after-effect', 'after-event'] as const;
export type CrashStep = (typeof CRASH_STEPS)[number];
export type CrashPoint = `${FileChangeKind}.${CrashStep}`;
export const CRASH_POINTS: readonly CrashPoint[] = (
  ['delete', 'rename', 'mkdir', 'rmdir', 'setstat'] as const
).flatMap((kind) => CRASH_STEPS.map((step): CrashPoint => `${kind}.${step}`));

export interface FileIntentsDeps {
  readonly journal: IntentJournal;
  readonly storage: ChangeStorage;
  readonly store: EventStore;
  /** Test only: called at each step; the test's hook stops the process there. */
  readonly crashAt?: ((point: CrashPoint) => void) | undefined;
}

export type Settled = { outcome: 'finished' } | { outcome: 'undone'; leftover?: string };

const RECOVERY_REASON = 'the server stopped before the change was recorded';
const RUNTIME_REASON = 'the change could not be recorded';

export class FileIntents {
  /** Changes whose event could not be appended nor their fate settled (the database away). */
  private readonly unsettled = new Map<string, IntentNote>();

  constructor(private readonly deps: FileIntentsDeps) {}

  private stream(intentId: string): string {
    return fileStream(intentId);
  }

  /**
   * Makes `change` under `home`, its event durable before this resolves. Fails with storage's
   * error when the change cannot be made (nothing changed, nothing recorded); with the event
   * store's when the event cannot be appended (then put back, unless that too fails: the note
   * stays and the next start settles it).
   */
  async make(note: IntentNote, home: string): Promise<void> {
    const { journal, storage, store, crashAt } = this.deps;
    const { intentId, change } = note;
    await journal.write(note);
    crashAt?.(`${change.kind}.after-intent`);
    let facts: ChangeFacts;
    try {
      facts = await storage.applyChange(home, change, intentId);
    } catch (error) {
      await journal.remove(intentId);
      throw error;
    }
    crashAt?.(`${change.kind}.after-effect`);
    try {
      await store.appendToStream(
        this.stream(intentId),
        [toNewEvent(changeDone(change, facts), note.metadata)],
        {
          expectedRevision: 'no_stream',
        },
      );
    } catch (error) {
      // The append may have committed before it failed: the stream says, and decides.
      const settled = await this.settle(note, RUNTIME_REASON).catch(() => {
        this.unsettled.set(intentId, note);
        return undefined;
      });
      if (settled?.outcome === 'finished') return;
      throw error;
    }
    crashAt?.(`${change.kind}.after-event`);
    await this.finish(note, home);
  }

  private async finish(note: IntentNote, home: string): Promise<void> {
    await this.deps.storage.finishChange(home, note.change, note.intentId);
    await this.deps.journal.remove(note.intentId);
  }

  /** Finishes or undoes the change of `note`, as its stream says (recording the undo first). */
  async settle(note: IntentNote, reason: string): Promise<Settled> {
    const { store, storage, journal } = this.deps;
    const stream = this.stream(note.intentId);
    let [first] = await store.readStream(stream, { maxCount: 1 });
    if (!first) {
      try {
        await store.appendToStream(stream, [toNewEvent(changeUndone(note.change, reason), note.metadata)], {
          expectedRevision: 'no_stream',
        });
      } catch (error) {
        if (!(error instanceof WrongExpectedRevision)) throw error;
      }
      [first] = await store.readStream(stream, { maxCount: 1 });
    }
    const home = await storage.home(note.homeFolder);
    if (first?.type !== 'FileChangeUndone') {
      await this.finish(note, home);
      return { outcome: 'finished' };
    }
    const leftover = await storage.undoChange(home, note.change, note.intentId);
    await journal.remove(note.intentId);
    return leftover === undefined ? { outcome: 'undone' } : { outcome: 'undone', leftover };
  }

  /**
   * Settles the changes left unsettled while this process ran (retried until the event store
   * answers); never touches changes in flight.
   */
  async retryUnsettled(
    onSettled: (note: IntentNote, settled: Settled) => void = () => undefined,
  ): Promise<{ finished: number; undone: number }> {
    const counts = { finished: 0, undone: 0 };
    for (const [intentId, note] of this.unsettled) {
      const settled = await this.settle(note, RUNTIME_REASON);
      this.unsettled.delete(intentId);
      counts[settled.outcome]++;
      onSettled(note, settled);
    }
    return counts;
  }

  /** At start-up: settles every change a stop cut short. */
  async recover(
    onSettled: (note: IntentNote, settled: Settled) => void = () => undefined,
  ): Promise<{ finished: number; undone: number }> {
    const counts = { finished: 0, undone: 0 };
    for (const { intentId, note } of await this.deps.journal.pending()) {
      // A note that cannot be read was cut short while it was written: nothing was changed yet.
      if (!noteChecker.Check(note) || note.intentId !== intentId) {
        await this.deps.journal.remove(intentId);
        continue;
      }
      const settled = await this.settle(note, RECOVERY_REASON);
      counts[settled.outcome]++;
      onSettled(note, settled);
    }
    return counts;
  }
}
