/**
 * User administration: ids from the `user-ids` stream, unique names and e-mail addresses
 * through reservation streams, profile and credentials on the user's own stream.
 */
import { DomainError } from '../domain/decider.js';
import type { EventStore, ExpectedRevision } from '../domain/event-store.js';
import { WrongExpectedRevision } from '../domain/event-store.js';
import { toNewEvent } from '../domain/events/catalogue.js';
import type { EventMetadata } from '../domain/events/envelope.js';
import {
  foldCase,
  type ReservationScope,
  reservationDecider,
  reservationStream,
} from '../domain/users/reservation.js';
import {
  type PublicKeyInput,
  type UserChanges,
  type UserCreatedBy,
  type UserPathPermissions,
  type UserRight,
  type UserState,
  userDecider,
  userStream,
} from '../domain/users/user.js';
import { USER_IDS_STREAM, userIdDecider } from '../domain/users/user-ids.js';
import {
  defaultHomeFolder,
  requireValidHomeFolder,
  requireValidUserName,
} from '../domain/users/user-name.js';
import { handleCommand, loadState } from './command-handler.js';
import type { Clock, CredentialStore, PasswordHasher } from './ports.js';

/** A reservation whose user never came into being is taken over after this long. */
const ABANDONED_RESERVATION_MS = 60_000;

export interface NewUser {
  readonly userName: string;
  readonly emailAddress: string;
  readonly firstName: string;
  readonly lastName: string;
  readonly password: string | null;
  readonly rights: readonly UserRight[];
  readonly homeFolder?: string;
  readonly permissions: readonly UserPathPermissions[];
  readonly keys: readonly PublicKeyInput[];
  /** The user's own limits; absent or null: the server's. */
  readonly quotaBytes?: number | null;
  readonly maxFileBytes?: number | null;
}

export interface UserServiceDeps {
  readonly store: EventStore;
  readonly passwords: PasswordHasher;
  readonly credentials: CredentialStore;
  readonly clock: Clock;
}

export type ActiveUser = Extract<UserState, { status: 'active' }>;

export class UserService {
  constructor(private readonly deps: UserServiceDeps) {}

  async getUser(userId: number): Promise<UserState> {
    return (await loadState(this.deps.store, userStream(userId), userDecider)).state;
  }

  /** The user holding a name or address (case-insensitive), from its reservation stream. */
  async findUserId(scope: ReservationScope, value: string): Promise<number | null> {
    const { state } = await loadState(
      this.deps.store,
      reservationStream(scope, value),
      reservationDecider,
      'last',
    );
    return state.holder;
  }

  async createUser(
    input: NewUser,
    createdBy: UserCreatedBy,
    metadata: EventMetadata,
  ): Promise<{ user: ActiveUser; position: number }> {
    // Refused before an id or a name is taken: bad input changes nothing.
    requireValidUserName(input.userName);
    const homeFolder = input.homeFolder ?? defaultHomeFolder(input.userName);
    requireValidHomeFolder(homeFolder);
    const userId = await this.allocateUserId(metadata);
    const reserved: Array<[ReservationScope, string]> = [];
    try {
      await this.reserve('userName', input.userName, userId, metadata);
      reserved.push(['userName', input.userName]);
      await this.reserve('emailAddress', input.emailAddress, userId, metadata);
      reserved.push(['emailAddress', input.emailAddress]);
      let credentialVersion: number | null = null;
      if (input.password !== null) {
        credentialVersion = 1;
        await this.deps.credentials.put(
          userId,
          credentialVersion,
          await this.deps.passwords.hash(input.password),
        );
      }
      const result = await handleCommand(
        this.deps.store,
        userStream(userId),
        userDecider,
        {
          type: 'CreateUser',
          userId,
          userName: input.userName,
          emailAddress: input.emailAddress,
          firstName: input.firstName,
          lastName: input.lastName,
          rights: input.rights,
          homeFolder,
          permissions: input.permissions,
          credentialVersion,
          keys: input.keys,
          createdBy,
          quotaBytes: input.quotaBytes ?? null,
          maxFileBytes: input.maxFileBytes ?? null,
        },
        metadata,
      );
      return { user: result.state as ActiveUser, position: result.append?.lastPosition ?? 0 };
    } catch (error) {
      for (const [scope, value] of reserved)
        await this.release(scope, value, userId, metadata).catch(() => undefined);
      throw error;
    }
  }

  async updateUser(
    userId: number,
    changes: Partial<UserChanges>,
    by: number,
    metadata: EventMetadata,
  ): Promise<{ user: ActiveUser; position: number | null }> {
    const current = await this.getUser(userId);
    if (current.status !== 'active')
      throw new DomainError(
        current.status === 'deleted' ? 'user-deleted' : 'user-unknown',
        `user ${userId} does not exist`,
      );
    if (changes.homeFolder !== undefined) requireValidHomeFolder(changes.homeFolder);
    const newEmail =
      changes.emailAddress !== undefined && foldCase(changes.emailAddress) !== foldCase(current.emailAddress)
        ? changes.emailAddress
        : undefined;
    if (newEmail !== undefined) await this.reserve('emailAddress', newEmail, userId, metadata);
    try {
      const result = await handleCommand(
        this.deps.store,
        userStream(userId),
        userDecider,
        { type: 'UpdateUser', userId, changes, by },
        metadata,
      );
      if (newEmail !== undefined) await this.release('emailAddress', current.emailAddress, userId, metadata);
      return { user: result.state as ActiveUser, position: result.append?.lastPosition ?? null };
    } catch (error) {
      if (newEmail !== undefined)
        await this.release('emailAddress', newEmail, userId, metadata).catch(() => undefined);
      throw error;
    }
  }

  async setPassword(
    userId: number,
    password: string,
    by: number,
    metadata: EventMetadata,
  ): Promise<number | null> {
    for (;;) {
      const user = await this.getUser(userId);
      if (user.status !== 'active') throw new DomainError('user-unknown', `user ${userId} does not exist`);
      const version =
        Math.max(user.credentialVersion ?? 0, await this.deps.credentials.latestVersion(userId)) + 1;
      const hash = await this.deps.passwords.hash(password);
      try {
        await this.deps.credentials.put(userId, version, hash);
      } catch {
        continue; // another change took this version first: take the next one
      }
      const result = await handleCommand(
        this.deps.store,
        userStream(userId),
        userDecider,
        { type: 'ChangePassword', userId, credentialVersion: version, by },
        metadata,
      );
      return result.append?.lastPosition ?? null;
    }
  }

  async setEnabled(
    userId: number,
    enabled: boolean,
    by: number,
    metadata: EventMetadata,
  ): Promise<number | null> {
    const result = await handleCommand(
      this.deps.store,
      userStream(userId),
      userDecider,
      { type: 'SetUserEnabled', userId, enabled, by },
      metadata,
    );
    return result.append?.lastPosition ?? null;
  }

  async replaceKeys(
    userId: number,
    keys: readonly PublicKeyInput[],
    by: number,
    metadata: EventMetadata,
  ): Promise<number | null> {
    const result = await handleCommand(
      this.deps.store,
      userStream(userId),
      userDecider,
      { type: 'ReplaceKeys', userId, keys, by },
      metadata,
    );
    return result.append?.lastPosition ?? null;
  }

  /** Deletes the user, then frees its name and address for reuse. */
  async deleteUser(userId: number, by: number, metadata: EventMetadata): Promise<number> {
    let names: { userName: string; emailAddress: string } | undefined;
    const result = await handleCommand(
      this.deps.store,
      userStream(userId),
      userDecider,
      (state) => {
        if (state.status === 'active') names = { userName: state.userName, emailAddress: state.emailAddress };
        return { type: 'DeleteUser' as const, userId, by };
      },
      metadata,
    );
    if (names) {
      await this.release('userName', names.userName, userId, metadata);
      await this.release('emailAddress', names.emailAddress, userId, metadata);
    }
    return result.append?.lastPosition ?? 0;
  }

  /** Checks a password against the user's current credential; with no user, only spends the time. */
  async verifyPassword(user: ActiveUser | null, password: string): Promise<boolean> {
    if (user === null || user.credentialVersion === null) {
      await this.deps.passwords.burn(password);
      return false;
    }
    const hash = await this.deps.credentials.get(user.userId, user.credentialVersion);
    if (hash === undefined) {
      await this.deps.passwords.burn(password);
      return false;
    }
    return this.deps.passwords.verify(hash, password);
  }

  private async allocateUserId(metadata: EventMetadata): Promise<number> {
    // Ids are dense: revision r of `user-ids` allocated id r + 1. A conflict tells the real revision.
    let expected: ExpectedRevision = 'no_stream';
    for (let attempt = 0; attempt < 1000; attempt++) {
      const state = { lastUserId: expected === 'no_stream' ? 0 : Number(expected) + 1 };
      const events = userIdDecider.decide({ type: 'AllocateUserId' }, state);
      try {
        await this.deps.store.appendToStream(
          USER_IDS_STREAM,
          events.map((e) => toNewEvent(e, metadata)),
          {
            expectedRevision: expected,
          },
        );
        return events[0]!.data.userId;
      } catch (error) {
        if (!(error instanceof WrongExpectedRevision)) throw error;
        expected = error.actual;
      }
    }
    throw new Error('could not allocate a user id under contention');
  }

  private async reserve(
    scope: ReservationScope,
    value: string,
    userId: number,
    metadata: EventMetadata,
  ): Promise<void> {
    const stream = reservationStream(scope, value);
    await handleCommand(
      this.deps.store,
      stream,
      reservationDecider,
      async (state) => ({
        type: 'Reserve' as const,
        scope,
        value,
        userId,
        holderIsStale:
          state.holder !== null && state.holder !== userId && (await this.isStale(stream, state.holder)),
      }),
      metadata,
      'last',
    );
  }

  private async release(
    scope: ReservationScope,
    value: string,
    userId: number,
    metadata: EventMetadata,
  ): Promise<void> {
    await handleCommand(
      this.deps.store,
      reservationStream(scope, value),
      reservationDecider,
      { type: 'Release', scope, value, userId },
      metadata,
      'last',
    );
  }

  /** The holder was deleted, or never finished being created. */
  private async isStale(stream: string, holder: number): Promise<boolean> {
    const user = await this.getUser(holder);
    if (user.status === 'deleted') return true;
    if (user.status === 'active') return false;
    const [last] = await this.deps.store.readStream(stream, { backwards: true, maxCount: 1 });
    return (
      last !== undefined &&
      this.deps.clock.now().getTime() - last.recordedAt.getTime() > ABANDONED_RESERVATION_MS
    );
  }
}
