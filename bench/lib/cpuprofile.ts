/**
 * A text summary of a V8 .cpuprofile (as `node --cpu-prof` writes it): where the samples of a
 * time window went, by function (self and inclusive time) and by area (our files, each
 * dependency, node internals, GC).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  /** µs, same clock as process.hrtime (CLOCK_MONOTONIC) */
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileWindow {
  /** process.hrtime.bigint() / 1000n at the window's start and end (µs, monotonic) */
  fromUs: number;
  toUs: number;
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

function area(url: string, name: string, root: string): string {
  if (SPECIAL.has(name)) return name;
  if (url === '') return '(native / V8 builtins)';
  const path = url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  if (pkg) return pkg[1] as string;
  if (path.startsWith('node:')) return 'node internals';
  return path.startsWith(root) ? path.slice(root.length + 1) : path;
}

/** "name  file:line:column"; a dependency's file as "<package>/<path in it>". */
function frameName(node: ProfileNode, root: string): string {
  const { functionName, url, lineNumber, columnNumber } = node.callFrame;
  if (SPECIAL.has(functionName)) return functionName;
  const path = url.replace(/^file:\/\//, '');
  const file = path.includes('node_modules/')
    ? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)
    : path.startsWith(`${root}/`)
      ? path.slice(root.length + 1)
      : path || '(native)';
  return `${functionName || '(anonymous)'}  ${file}:${lineNumber + 1}:${columnNumber + 1}`;
}

/** Summarises the profile at `path`; only samples inside `window` when given (and any fall in it). */
export function summariseProfile(path: string, root: string, window?: ProfileWindow, top = 25): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  // sample i was taken at startTime + sum(timeDeltas[0..i]) and stands for the interval to the next
  const times: number[] = [];
  let t = profile.startTime;
  for (const delta of profile.timeDeltas) {
    t += delta;
    times.push(t);
  }
  let picked = profile.samples.map((_, i) => i);
  if (window) {
    const inWindow = picked.filter(
      (i) => (times[i] as number) >= window.fromUs && (times[i] as number) <= window.toUs,
    );
    if (inWindow.length > 0) picked = inWindow;
  }
  const weight = (i: number) =>
    Math.max(0, ((times[i + 1] ?? profile.endTime) as number) - (times[i] as number));

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const areas = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const i of picked) {
    const node = byId.get(profile.samples[i] as number);
    if (!node) continue;
    const us = weight(i);
    if (node.callFrame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const name = frameName(node, root);
    self.set(name, (self.get(name) ?? 0) + us);
    const where = area(node.callFrame.url, node.callFrame.functionName, root);
    areas.set(where, (areas.get(where) ?? 0) + us);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id) as ProfileNode;
      if (frame.callFrame.functionName === '(root)') break;
      const f = frameName(frame, root);
      if (seen.has(f)) continue;
      seen.add(f);
      inclusive.set(f, (inclusive.get(f) ?? 0) + us);
    }
  }
  const pct = (us: number) => `${((100 * us) / Math.max(1, busy)).toFixed(1).padStart(5)}%`;
  const list = (m: Map<string, number>, n: number, filter: (k: string) => boolean = () => true) =>
    [...m]
      .filter(([k]) => filter(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `    ${pct(us)}  ${k}`)
      .join('\n');
  const seconds = (busy + idle) / 1e6;
  return [
    `  ${picked.length} samples over ${seconds.toFixed(1)} s; main thread busy ${((100 * busy) / Math.max(1, busy + idle)).toFixed(0)}% (percentages below are of busy time)`,
    '  self time by area:',
    list(areas, 15),
    '  self time by function:',
    list(self, top),
    '  inclusive time by function:',
    list(inclusive, top),
    '  inclusive time, functions in src/:',
    list(inclusive, top, (k) => /\ssrc\//.test(k)),
  ].join('\n');
}
