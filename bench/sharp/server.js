// server.js: a small HTTP server answering imgpipe's bench workloads with sharp (libvips for
// Node.js), for comparison runs only (bench/run.sh --with-sharp). POST the image as the raw body to
// the same paths and queries as imgpipe / imaginary:
//   /fit?width=W&height=H            fit inside W x H (imaginary's /fit)
//   /resize?width=W[&height=H]       W only: proportional; W and H: fit inside, pad to W x H
//   /thumbnail?width=W&height=H      stretched to exactly W x H (imaginary's /thumbnail)
//   /crop?width=W&height=H           cover, then centre crop
//   /transform?w=W&h=H&fit=cover|contain|fill|inside|outside
// plus type=jpeg|png|webp|avif, quality|q (default 75, imaginary's), compression (PNG, default 6).
// EXIF orientation is applied (like imgpipe and imaginary); metadata is stripped (sharp's default).
// GET /health answers 200 for readiness checks. Errors: {"message": "...", "status": N}.
// Usage: node server.js --listen 127.0.0.1:PORT   (loopback unless you pass another address)
'use strict';
const http = require('http');
const sharp = require('sharp');

sharp.cache(false); // like imgpipe (vips_cache_set_max(0)): every request does the full work
if (process.env.SHARP_CONCURRENCY) sharp.concurrency(parseInt(process.env.SHARP_CONCURRENCY, 10));

const MAX_BODY = 64 * 1024 * 1024;
let listen = '127.0.0.1:8090';
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--listen' && process.argv[i + 1]) listen = process.argv[++i];
}
const colon = listen.lastIndexOf(':');
const host = listen.slice(0, colon);
const port = parseInt(listen.slice(colon + 1), 10);

function fail(res, status, message) {
  const body = JSON.stringify({ message, status });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function int(q, names, def) {
  for (const n of names) {
    if (q.has(n)) {
      const v = Number(q.get(n));
      if (!Number.isInteger(v) || v < 0 || v > 16383) throw new Error(`${n} must be an integer 0..16383`);
      return v;
    }
  }
  return def;
}

function plan(op, q) {
  const width = int(q, ['width', 'w'], 0) || undefined;
  const height = int(q, ['height', 'h'], 0) || undefined;
  switch (op) {
    case 'fit':
      if (!width || !height) throw new Error('fit needs width and height');
      return { width, height, fit: 'inside' };
    case 'resize':
      if (!width && !height) throw new Error('resize needs width or height');
      return width && height ? { width, height, fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 1 } } : { width, height };
    case 'thumbnail':
      if (!width && !height) throw new Error('thumbnail needs width or height');
      return width && height ? { width, height, fit: 'fill' } : { width, height };
    case 'crop':
      if (!width && !height) throw new Error('crop needs width or height');
      return { width, height, fit: 'cover', position: 'centre' };
    case 'transform': {
      const fit = q.get('fit') || 'inside';
      if (!['cover', 'contain', 'fill', 'inside', 'outside'].includes(fit)) throw new Error('fit must be cover, contain, fill, inside or outside');
      return { width, height, fit, withoutEnlargement: q.get('enlarge') !== 'true' };
    }
    default:
      return null;
  }
}

function encode(img, q, meta) {
  const type = (q.get('type') || meta.format || 'jpeg').toLowerCase();
  const quality = int(q, ['quality', 'q'], 75);
  switch (type) {
    case 'jpeg':
    case 'jpg':
      return [img.jpeg({ quality }), 'image/jpeg'];
    case 'png':
      return [img.png({ compressionLevel: int(q, ['compression'], 6) }), 'image/png'];
    case 'webp':
      return [img.webp({ quality }), 'image/webp'];
    case 'avif':
      return [img.avif({ quality }), 'image/avif'];
    default:
      throw new Error(`type ${type} is not one of jpeg, png, webp, avif`);
  }
}

async function handle(req, res, body) {
  const url = new URL(req.url, 'http://x');
  const op = url.pathname.replace(/^\/+/, '');
  if (req.method === 'GET' && (op === 'health' || op === '')) {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return res.end(JSON.stringify({ sharp: sharp.versions.sharp, vips: sharp.versions.vips }));
  }
  if (req.method !== 'POST') return fail(res, 405, 'POST the image as the body');
  if (!body.length) return fail(res, 400, 'Empty or unreadable image');
  let resize;
  try {
    resize = plan(op, url.searchParams);
  } catch (e) {
    return fail(res, 400, e.message);
  }
  if (!resize) return fail(res, 404, `no route /${op} in the sharp comparison server`);
  try {
    const img = sharp(body, { failOn: 'none' }).rotate().resize(resize);
    const meta = url.searchParams.has('type') ? {} : await sharp(body).metadata(); // keep the input's format
    const [enc, mime] = encode(img, url.searchParams, meta);
    const out = await enc.toBuffer();
    res.writeHead(200, { 'Content-Type': mime, 'Content-Length': out.length });
    res.end(out);
  } catch (e) {
    fail(res, /type|must be/.test(e.message) ? 400 : 422, e.message.replace(/\n/g, ' '));
  }
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) {
      fail(res, 413, 'body too large');
      req.destroy();
    } else chunks.push(c);
  });
  req.on('end', () => handle(req, res, Buffer.concat(chunks)).catch((e) => fail(res, 500, String(e))));
});
server.keepAliveTimeout = 60000;
server.listen(port, host, () => {
  console.log(`sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}) listening on http://${host}:${port}, pid ${process.pid}`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
