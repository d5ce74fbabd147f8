/**
 * Command lines of the benchmarks that take `--name value` and `--name=value` options and
 * flags: one check that every argument is known, readers for numbers and lists, and the options
 * the file-transfer benchmarks share.
 */
import path from 'node:path';
import { positiveInt, UsageError } from './common.js';

/** The value of `--name value` or `--name=value`; '' when the value is missing, undefined when absent. */
export function argValue(name: string): string | undefined {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === `--${name}`) return args[i + 1] ?? '';
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
  }
  return undefined;
}

/** A comma-separated choice among `allowed` (all of them when absent), in `allowed`'s order. */
export function list<T extends string>(name: string, text: string | undefined, allowed: readonly T[]): T[] {
  if (text === undefined || text === '') return [...allowed];
  const items = text.split(',').map((s) => s.trim().toLowerCase());
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new UsageError(`${name}: unknown "${item}" (one or more of ${allowed.join(',')})`);
    }
  }
  return allowed.filter((a) => items.includes(a));
}

/**
 * Refuses any argument that is neither one of `valueOptions` (followed by its value, or
 * `=value`) nor one of `flags`; prints `usage` and exits on --help.
 */
export function checkArguments(
  valueOptions: readonly string[],
  flags: readonly string[],
  usage: string,
): void {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const key = arg.split('=')[0]!;
    if (valueOptions.includes(key)) {
      if (!arg.includes('=')) i++;
    } else if (!flags.includes(key) && key !== '--help') {
      throw new UsageError(`unknown option ${arg} (see --help)`);
    }
  }
  if (args.includes('--help')) {
    process.stdout.write(usage);
    process.exit(0);
  }
}

/** `--cpu-prof DIR` as an absolute path, if given. */
export function cpuProfDir(): string | undefined {
  const dir = argValue('cpu-prof');
  if (dir === '') throw new UsageError('--cpu-prof needs a directory');
  return dir === undefined ? undefined : path.resolve(dir);
}

/** The options bench:sftp and bench:http-files share. */
export interface TransferOptions {
  /** MiB of the big file, uploaded then downloaded. */
  readonly bigMib: number;
  /** How many 4 KiB files the small case uploads. */
  readonly small: number;
  readonly rounds: number;
  readonly cpuProf: string | undefined;
  /** Keep the temporary directory. */
  readonly keep: boolean;
}

/** `--big-mib`, `--small`, `--rounds` (or their BENCH_ variables), `--cpu-prof` and `--keep`. */
export function transferOptions(): TransferOptions {
  const cpuProf = cpuProfDir();
  return {
    bigMib: positiveInt('--big-mib', argValue('big-mib') ?? process.env.BENCH_BIG_MIB, 1024),
    small: positiveInt('--small', argValue('small') ?? process.env.BENCH_SMALL, 1000),
    rounds: positiveInt('--rounds', argValue('rounds') ?? process.env.BENCH_ROUNDS, 3),
    cpuProf,
    keep: process.argv.slice(2).includes('--keep'),
  };
}
