import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const req = createRequire(import.meta.url);
export const stockOrtPackage = dirname(req.resolve('onnxruntime-node/package.json'));
export const stockOrtBin = join(stockOrtPackage, 'bin', 'napi-v6', process.platform, process.arch);

/** One line of a marked package's log: a process (or worker thread) that loaded it. */
export interface OrtLoad {
  pid: number;
  /** the script the process runs (process.argv[1]): which child or command loaded the library */
  script: string;
  worker: boolean;
}

/**
 * A real onnxruntime-node package at `dir` (an `engine.ortLibraryPath` as a Jetson's build would be installed),
 * whose JavaScript appends a line to `log` in every process or worker thread that loads it: which processes load
 * the configured library, and which do not. It is the bundled package's JavaScript, a private copy of
 * onnxruntime-common (the JavaScript registers its backend on the instance it loads) and links to this machine's
 * native binding and libonnxruntime (the JavaScript decides which binding a process loads; the marker is there).
 */
export function markedOrtPackage(dir: string, log: string): string {
  mkdirSync(dir, { recursive: true });
  cpSync(join(stockOrtPackage, 'package.json'), join(dir, 'package.json'));
  cpSync(join(stockOrtPackage, 'dist'), join(dir, 'dist'), { recursive: true });
  const index = join(dir, 'dist', 'index.js');
  const marker = `require("fs").appendFileSync(${JSON.stringify(log)}, JSON.stringify({ pid: process.pid, script: process.argv[1] || "", worker: !require("worker_threads").isMainThread }) + "\\n");\n`;
  writeFileSync(index, marker + readFileSync(index, 'utf8'));
  const common = dirname(createRequire(join(stockOrtPackage, 'package.json')).resolve('onnxruntime-common'));
  let root = common;
  // the package's root, not dist/cjs (which holds a package.json of its own)
  const named = (d: string) => existsSync(join(d, 'package.json')) && (JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { name?: string }).name === 'onnxruntime-common';
  while (!named(root)) root = dirname(root);
  cpSync(root, join(dir, 'node_modules', 'onnxruntime-common'), { recursive: true });
  const bin = join(dir, 'bin', 'napi-v6', process.platform, process.arch);
  mkdirSync(bin, { recursive: true });
  for (const f of ['onnxruntime_binding.node', 'libonnxruntime.so.1']) symlinkSync(join(stockOrtBin, f), join(bin, f));
  appendFileSync(log, '');
  return dir;
}

/** The loads a marked package's log records. */
export function ortLoads(log: string): OrtLoad[] {
  return readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as OrtLoad);
}

/** The loads of processes running `script` (a path suffix such as 'profile/child.js'). */
export function loadsBy(log: string, script: string): OrtLoad[] {
  return ortLoads(log).filter((l) => l.script.endsWith(script));
}
