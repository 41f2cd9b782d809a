// A tiny static server for the built site, loopback only. Usable from tests (import
// { serve }) and by hand: node tests/e2e/serve.mjs <site dir> [--port 8080] [--isolate]
// (--isolate sends COOP/COEP so the page is cross-origin isolated, as the threaded build needs).
import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const kTypes = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json',
  '.bin': 'application/octet-stream', '.jpg': 'image/jpeg', '.png': 'image/png',
};

export function serve(root, { port = 0, isolate = false } = {}) {
  const server = http.createServer(async (req, res) => {
    const rel = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    const file = path.join(root, path.normalize(rel).replace(/^(\.\.[/\\])+/, ''));
    const headers = isolate
      ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } : {};
    try {
      const target = (await fs.stat(file)).isDirectory() ? path.join(file, 'index.html') : file;
      const body = await fs.readFile(target);
      res.writeHead(200, { 'Content-Type': kTypes[path.extname(target)] || 'application/octet-stream',
        'Cache-Control': 'no-cache', ...headers });
      res.end(body);
    } catch {
      res.writeHead(404, headers);
      res.end('not found');
    }
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const root = args.find((a) => !a.startsWith('--')) || 'build/wasm/site';
  const i = args.indexOf('--port');
  const server = await serve(path.resolve(root), { port: i >= 0 ? Number(args[i + 1]) : 8080,
    isolate: args.includes('--isolate') });
  console.log(`serving ${root} at http://127.0.0.1:${server.address().port}/`);
}
