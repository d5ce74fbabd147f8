/** Password hashing with argon2id (@node-rs/argon2), OWASP's minimum settings or stronger. */
import { hash, verify } from '@node-rs/argon2';
import type { PasswordHasher } from '../../application/ports.js';

/** 2 = Algorithm.Argon2id (a const enum, which isolated modules cannot read). */
const OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export class Argon2Hasher implements PasswordHasher {
  private decoy: Promise<string> | undefined;

  hash(password: string): Promise<string> {
    return hash(password, OPTIONS);
  }

  async verify(stored: string, password: string): Promise<boolean> {
    try {
      return await verify(stored, password);
    } catch {
      return false;
    }
  }

  async burn(password: string): Promise<void> {
    this.decoy ??= this.hash('sluice decoy password');
    await this.verify(await this.decoy, password);
  }
}
