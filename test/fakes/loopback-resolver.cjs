/**
 * DNS for fake domains, loaded into every Node process of a test with
 * `NODE_OPTIONS=--require <absolute path of this file>`:
 * a hostname under one of the suffixes in MAUNTIC_LOOPBACK_DOMAINS (comma-separated, e.g. `.neon.tech`) resolves to
 * 127.0.0.1; every other name resolves as usual.
 *
 * Why: the program builds connection URIs on Neon's real host names (`ep-....us-east-2.aws.neon.tech`, port 5432,
 * `sslmode=require`), and the processes the Pulumi engine starts (dynamic providers, the post-deploy migrate command)
 * connect to exactly those. Tests never call the internet, so the stand-in for Neon's front door listens on
 * 127.0.0.1, and this file is the stand-in for the DNS of that fake domain. It patches `dns.lookup` and
 * `dns.promises.lookup`, which is what net.connect, tls.connect, node-postgres and fetch (undici) call to resolve a
 * name (`lookup` defaults to `dns.lookup`: https://nodejs.org/api/net.html#socketconnectoptions-connectlistener);
 * Node's own resolver (`dns.resolve*`) and other programs are not affected.
 *
 * Only IPv4 is answered: a lookup that asks for IPv6 only (`family: 6`) gets ENOTFOUND, as a name with only an A record
 * would. CommonJS on purpose: `--require` loads it before any ESM or tsx loader.
 */
"use strict";
const dns = require("node:dns");

const suffixes = String(process.env.MAUNTIC_LOOPBACK_DOMAINS ?? "")
  .split(",")
  .map((s) => s.trim().toLowerCase().replace(/\.$/, ""))
  .filter(Boolean);

/** `.neon.tech` matches `neon.tech` and every name below it; `neon.tech` (no dot) the same. */
function isLoopback(hostname) {
  if (typeof hostname !== "string" || suffixes.length === 0) return false;
  const h = hostname.toLowerCase().replace(/\.$/, "");
  return suffixes.some((s) => {
    const bare = s.replace(/^\./, "");
    return h === bare || h.endsWith(`.${bare}`);
  });
}

/** The lookup options as dns.lookup takes them: a family number, or an object. */
function parseOptions(options) {
  if (typeof options === "number") return { family: options, all: false };
  const o = options ?? {};
  const family = o.family === "IPv4" ? 4 : o.family === "IPv6" ? 6 : Number(o.family ?? 0);
  return { family, all: o.all === true };
}

function notFound(hostname) {
  const err = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
  err.code = "ENOTFOUND";
  err.errno = dns.NOTFOUND;
  err.syscall = "getaddrinfo";
  err.hostname = hostname;
  return err;
}

/** The answer for a loopback name, or an error for an IPv6-only question. */
function answer(hostname, options) {
  const { family, all } = parseOptions(options);
  if (family === 6) return { err: notFound(hostname) };
  const address = { address: "127.0.0.1", family: 4 };
  return { value: all ? [address] : address };
}

if (suffixes.length > 0 && !dns.lookup.__mauntic_loopback) {
  const original = dns.lookup;
  const patched = function lookup(hostname, options, callback) {
    if (typeof options === "function") {
      callback = options;
      options = undefined;
    }
    if (!isLoopback(hostname)) return original.call(dns, hostname, options ?? {}, callback);
    const { err, value } = answer(hostname, options);
    process.nextTick(() => {
      if (err) callback(err);
      else if (Array.isArray(value)) callback(null, value);
      else callback(null, value.address, value.family);
    });
    return {};
  };
  patched.__mauntic_loopback = true;
  dns.lookup = patched;

  const promises = dns.promises;
  const originalPromise = promises.lookup;
  promises.lookup = async function lookup(hostname, options) {
    if (!isLoopback(hostname)) return originalPromise.call(promises, hostname, options);
    const { err, value } = answer(hostname, options);
    if (err) throw err;
    return value;
  };
}

module.exports = { isLoopback };
