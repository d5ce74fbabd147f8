/**
 * What a complete upload means to a flow: nothing (outside its folder, not matched), a file
 * to move (now, or once a trigger file releases it), or a trigger file releasing one named
 * file or the batch waiting in its folder. Paths are canonical virtual paths; a flow's match
 * applies to the path below its source folder (`a.csv`, `2026/a.csv`), so `*.csv` takes the
 * folder's own files and `**\/*.csv` those of its subfolders too.
 */
import picomatch from 'picomatch';
import type { FlowDefinition } from './flow.js';

export type UploadRole =
  | { readonly role: 'ignored' }
  | { readonly role: 'file' }
  /** A trigger file: releases `released` (named) or the files waiting in `folder` (batch). */
  | { readonly role: 'trigger'; readonly released: string }
  | { readonly role: 'trigger'; readonly folder: string };

/** `path` below `folder` (without the leading slash), or undefined when it is not below it. */
export function pathBelow(folder: string, path: string): string | undefined {
  const prefix = folder === '/' ? '/' : `${folder}/`;
  return path.startsWith(prefix) && path.length > prefix.length ? path.slice(prefix.length) : undefined;
}

const matchers = new Map<string, (relative: string) => boolean>();

/** The flow's match rule as a predicate on a path below the source folder (compiled once). */
export function matcherOf(match: FlowDefinition['match']): (relative: string) => boolean {
  const key = `${match.kind}\n${match.pattern}`;
  let matcher = matchers.get(key);
  if (!matcher) {
    if (match.kind === 'glob') {
      matcher = picomatch(match.pattern, { dot: true });
    } else {
      const regex = new RegExp(match.pattern, 'u');
      matcher = (relative) => regex.test(relative);
    }
    if (matchers.size > 1000) matchers.clear();
    matchers.set(key, matcher);
  }
  return matcher;
}

export function roleOf(flow: FlowDefinition, path: string): UploadRole {
  const relative = pathBelow(flow.sourceFolder, path);
  if (relative === undefined) return { role: 'ignored' };
  const { trigger } = flow;
  if (trigger && relative.endsWith(trigger.suffix) && relative.length > trigger.suffix.length) {
    if (trigger.releases === 'named')
      return { role: 'trigger', released: path.slice(0, -trigger.suffix.length) };
    return { role: 'trigger', folder: path.slice(0, path.lastIndexOf('/')) || '/' };
  }
  return matcherOf(flow.match)(relative) ? { role: 'file' } : { role: 'ignored' };
}

/** Where a file of the flow lands: the same path below the target folder (user targets). */
export function targetPath(flow: FlowDefinition, path: string, targetFolder: string): string {
  const relative = pathBelow(flow.sourceFolder, path) ?? path.slice(path.lastIndexOf('/') + 1);
  return targetFolder === '/' ? `/${relative}` : `${targetFolder}/${relative}`;
}
