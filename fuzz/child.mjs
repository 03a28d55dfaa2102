#!/usr/bin/env node
/**
 * A long-lived fuzz child: imports the built CLI's `main(argv)` once and runs it for each request the parent
 * (fuzz/run.mjs) sends over IPC, so a case costs no node start-up or module loading.
 *
 *   node --max-old-space-size=512 fuzz/child.mjs APP/dist/src/cli.js
 *
 * parent -> child  {type: 'run', id, args}       run main(args)
 *                  {type: 'stop'}                exit
 * child -> parent  {type: 'ready'}               main is imported
 *                  {type: 'returned', id, code}  main returned, but the event loop is still busy
 *                  {type: 'result', id, code, threw, unhandled, exitCalled, stderr, stdoutBytes, ms, rss, busyMs}
 *                  {type: 'stray', id, text}     stderr or a rejection that arrived after run `id` had ended
 *
 * What the CLI writes to stderr (process.stderr.write, which console.error also goes through, and what worker
 * threads forward to it) is captured per run; stdout (the text report) is counted and dropped. The JSON report
 * goes to the file the parent names in `args`. process.exitCode is reset around every run.
 */
import { pathToFileURL } from 'node:url';

const cliPath = process.argv[2];
if (!cliPath || !process.send) {
  process.stderr.write('usage: node fuzz/child.mjs DIST/src/cli.js (started by fuzz/run.mjs with an IPC channel)\n');
  process.exit(2);
}

const send = (msg) => new Promise((resolve) => process.send(msg, () => resolve()));
const realStderrWrite = process.stderr.write.bind(process.stderr);
const realExit = process.exit.bind(process);
const CAP = 64 * 1024;

/** The run in progress, or null between runs. */
let current = null;
let lastId = null;
let stdoutBytes = 0;

function capture(chunk, encoding, cb) {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  if (current) {
    if (current.stderr.length < CAP) current.stderr += text;
  } else if (process.connected) {
    process.send({ type: 'stray', id: lastId, text: text.slice(0, CAP) });
  } else {
    realStderrWrite(text);
  }
  const done = typeof encoding === 'function' ? encoding : cb;
  if (typeof done === 'function') process.nextTick(done);
  return true;
}
process.stderr.write = capture;
process.stdout.write = (chunk, encoding, cb) => {
  stdoutBytes += chunk?.length ?? 0;
  const done = typeof encoding === 'function' ? encoding : cb;
  if (typeof done === 'function') process.nextTick(done);
  return true;
};

// bin/reprodiff turns an unhandled rejection into "internal error" and exit 2; here it fails the run it happened in
process.on('unhandledRejection', (e) => {
  const msg = `unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
  if (current) current.unhandled.push(msg);
  else if (process.connected) process.send({ type: 'stray', id: lastId, text: `${msg}\n` });
});
// an exception thrown outside main's promise chain would kill the real CLI with a stack trace: report it and die
process.on('uncaughtException', (e) => {
  const msg = `uncaught exception: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`;
  const id = current ? current.id : lastId;
  const stderr = current ? current.stderr + msg : msg;
  if (!process.connected) realExit(70);
  process.send({ type: current ? 'died' : 'stray', id, text: stderr }, () => realExit(70));
});
// the CLI is not meant to call process.exit, but if it does, the run ends there with that status
process.exit = (code) => {
  const c = code ?? process.exitCode ?? 0;
  if (current && process.connected) {
    process.send(
      { type: 'result', id: current.id, code: Number(c), exitCalled: true, threw: null, unhandled: current.unhandled, stderr: current.stderr, stdoutBytes, ms: Date.now() - current.t0, rss: process.memoryUsage().rss, busyMs: 0 },
      () => realExit(0),
    );
  } else realExit(Number(c));
};

const { main } = await import(pathToFileURL(cliPath).href);

/** Resources that keep the event loop alive, as a multiset over the types, minus those there before any run. */
const count = (list) => list.reduce((m, t) => m.set(t, (m.get(t) ?? 0) + 1), new Map());
let baseline = new Map(); // taken once the IPC listener below holds the channel open
function busy() {
  const now = count(process.getActiveResourcesInfo());
  const extra = [];
  for (const [t, n] of now) for (let i = baseline.get(t) ?? 0; i < n; i++) extra.push(t);
  return extra;
}
const tick = () => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(id, args) {
  current = { id, stderr: '', unhandled: [], t0: Date.now() };
  stdoutBytes = 0;
  process.exitCode = undefined;
  let code = null;
  let threw = null;
  try {
    code = await main(args);
  } catch (e) {
    threw = e instanceof Error ? (e.stack ?? e.message) : String(e);
  }
  const ms = Date.now() - current.t0;
  // let late rejections and forwarded worker output arrive while the run is still current
  await tick();
  await tick();
  // the real CLI exits only when nothing keeps the event loop alive; wait for that as a process exit would
  // (the parent's watchdog ends a run that never gets there, as it would end a process that never exits)
  let busyMs = 0;
  if (busy().length) {
    const t = Date.now();
    await send({ type: 'returned', id, code, resources: busy() });
    while (busy().length) await sleep(20);
    busyMs = Date.now() - t;
  }
  process.exitCode = undefined;
  const r = current;
  current = null;
  lastId = id;
  await send({ type: 'result', id, code, threw, unhandled: r.unhandled, exitCalled: false, stderr: r.stderr, stdoutBytes, ms, rss: process.memoryUsage().rss, busyMs });
}

let queue = Promise.resolve();
process.on('message', (msg) => {
  if (msg?.type === 'run') queue = queue.then(() => run(msg.id, msg.args));
  else if (msg?.type === 'stop') queue.then(() => realExit(0));
});
process.on('disconnect', () => realExit(0));
baseline = count(process.getActiveResourcesInfo());
await send({ type: 'ready' });
