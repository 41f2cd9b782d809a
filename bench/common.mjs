// Shared by the benchmarks (compare, methods, browser, page): machine description, options, TF.js
// model loading, writing results.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

// Loads a TF.js graph model from disk (model.json + its shards) without fetch.
export async function loadTfjsModel(dir, file) {
  const json = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  const bytes = Buffer.concat(json.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(dir, p)))));
  return tf.loadGraphModel(tf.io.fromMemory({
    modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
    weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  }));
}

// Median, min, max and count of a list of numbers (null when empty).
export function stats(v) {
  if (!v.length) return null;
  const s = [...v].sort((a, b) => a - b), n = s.length;
  return { median: n % 2 ? s[n >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2, min: s[0], max: s[n - 1], n };
}

export function describeMachine(root) {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const git = (...a) => { try { return execFileSync('git', a, { cwd: root, encoding: 'utf8' }).trim(); } catch { return '?'; } };
  return {
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? '?',
    cores: os.availableParallelism?.() ?? os.cpus().length,
    mem_gib: (os.totalmem() / 2 ** 30).toFixed(0),
    node: process.version, os: `${os.type()} ${os.release()}`,
    flags: ['avx2', 'avx512f', 'fma'].filter((f) => new RegExp(`^flags\\s*:.*\\b${f}\\b`, 'm').test(cpuinfo)),
    load_before: os.loadavg().map((l) => l.toFixed(2)).join(' '), load_after: null,
    commit: `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? ' (with uncommitted changes)' : ''}`,
    date: new Date().toISOString(),
  };
}

export function parseArgs(tool, argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in defaults) || argv[i + 1] === undefined) {
      throw new Error(`${tool}: unknown or incomplete option '${argv[i]}' (options: ${Object.keys(defaults).map((k) => '--' + k).join(' ')})`);
    }
    out[key] = argv[i + 1];
  }
  return out;
}

// Writes <dir>/<name>.json (and <name>.md when markdown is given) and prints the markdown.
export function writeResults(dir, name, result, markdown) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(result, null, 1) + '\n');
  if (markdown == null) return;
  fs.writeFileSync(path.join(dir, `${name}.md`), markdown);
  process.stdout.write('\n' + markdown);
}
