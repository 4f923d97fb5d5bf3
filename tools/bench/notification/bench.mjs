// Notification benchmark driver (run it through ./run). Starts its own Postgres, Redis,
// sb-notification and sb-gateway (the e2e helpers), connects socket.io-client devices, and measures:
//   1. Notify throughput: --callers concurrent gRPC callers for --duration s, each Notify to one of
//      --devices connected users: stored/s (OK answers) and delivered/s (notification:new received),
//      with p50/p99 call latency and p50/p99 time from the call to the socket.
//   2. NotifyMany fan-out: one call to --fanout recipients (the first --sample of them connected):
//      call duration, stored+delivered per second, p50/p99 time from the call to the socket.
//   3. Reference, same run: the same rows inserted naively, one transaction per notification
//      (INSERT + counter upsert), with pgbench: 1 client (a plain loop) and --callers clients.
// Prints one "RESULT key=value ..." line per phase on stdout; progress on stderr.
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../..");
const e2e = path.join(root, "tests/e2e");
const require = createRequire(path.join(e2e, "package.json"));
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");
const { connect, freePort, mintToken, sleep, startPostgres, startProcess, startRedis } = await import(
  path.join(e2e, "helpers.mjs")
);

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const buildDir = args["build-dir"] || path.join(root, "build/bench");
const CALLERS = Number(args.callers || 16);
const DURATION_S = Number(args.duration || 10);
const DEVICES = Number(args.devices || 200);
const FANOUT = Number(args.fanout || 10000);
const SAMPLE = Number(args.sample || 1000);
const SECRET = "bench-notification-secret-0123456789-0123456789";
const log = (...m) => console.error("[bench]", ...m);
const now = () => performance.timeOrigin + performance.now();

function pct(values, p) {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
const ms = (x) => (Number.isFinite(x) ? x.toFixed(1) : "nan");

const pg = await startPostgres();
const redis = await startRedis();
const [nGrpc, nHttp, gHttp, gGrpc] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
const ready = (url) => async () => (await fetch(url)).status === 200;
const notification = await startProcess("sb-notification", path.join(buildDir, "services/notification/sb-notification"), [], {
  env: {
    SB_POSTGRES_URL: pg.url, SB_REDIS_URL: redis.url, SB_GRPC_PORT: String(nGrpc), SB_HTTP_PORT: String(nHttp),
    SB_LOG_LEVEL: "warn", SB_POSTGRES_POOL_SIZE: "8",
  },
  ready: ready(`http://127.0.0.1:${nHttp}/readyz`),
});
const gateway = await startProcess("sb-gateway", path.join(buildDir, "services/gateway/sb-gateway"), [], {
  env: {
    SB_REDIS_URL: redis.url, SB_HTTP_PORT: String(gHttp), SB_GRPC_PORT: String(gGrpc), SB_JWT_SECRET: SECRET,
    SB_NOTIFICATION_ADDR: `127.0.0.1:${nGrpc}`, SB_LOG_LEVEL: "warn",
  },
  ready: ready(`http://127.0.0.1:${gHttp}/readyz`),
});
const url = `http://127.0.0.1:${gHttp}`;
const def = protoLoader.loadSync("switchboard/notification/v1/notification.proto", {
  includeDirs: [path.join(root, "proto")], longs: String, enums: String, defaults: true,
});
const Service = grpc.loadPackageDefinition(def).switchboard.notification.v1.NotificationService;
const rpc = new Service(`127.0.0.1:${nGrpc}`, grpc.credentials.createInsecure());
const call = (method, req) =>
  new Promise((resolve, reject) =>
    rpc[method](req, { deadline: Date.now() + 60_000 }, (err, res) => (err ? reject(err) : resolve(res))));

// Devices: one socket per user u0..u{n-1}; every notification:new is timed against the send time
// carried in data.t (same process, same clock).
const sockets = [];
let received = 0;
const latencies = [];
let onNew = null;
async function connectDevices(n) {
  const batch = 50;
  for (let i = sockets.length; i < n; i += batch) {
    const group = [];
    for (let j = i; j < Math.min(n, i + batch); j++) {
      group.push(connect(url, { auth: { token: mintToken(SECRET, { sub: `u${j}` }) }, transports: ["websocket"] }));
    }
    for (const s of await Promise.all(group)) {
      s.on("notification:new", (n) => {
        received++;
        if (onNew) onNew(n);
      });
      sockets.push(s);
    }
  }
  await sleep(1000); // user channel subscriptions are asynchronous
}

const stop = async () => {
  for (const s of sockets) s.disconnect();
  rpc.close();
  await gateway.stop();
  await notification.stop();
  await redis.stop();
  await pg.stop();
};

try {
  // ---- 1. Notify throughput --------------------------------------------------------------------
  log(`connecting ${DEVICES} devices`);
  await connectDevices(DEVICES);
  let seq = 0, stored = 0, failed = 0;
  const callLatency = [];
  onNew = (n) => latencies.push(now() - Number(n.data.t));
  received = 0;
  log(`Notify: ${CALLERS} callers for ${DURATION_S}s`);
  const start = now();
  const end = start + DURATION_S * 1000;
  await Promise.all(Array.from({ length: CALLERS }, async () => {
    while (now() < end) {
      const i = seq++;
      const t = now();
      try {
        await call("notify", {
          recipientId: `u${i % DEVICES}`, type: "new_follower", actor: { id: `a${i}`, name: `Actor ${i}` },
          dedupeKey: `bench-${i}`, data: { t: String(t) },
        });
        stored++;
        callLatency.push(now() - t);
      } catch (e) {
        failed++;
      }
    }
  }));
  const elapsed = (now() - start) / 1000;
  await sleep(1000);
  console.log(`RESULT phase=notify callers=${CALLERS} seconds=${elapsed.toFixed(2)} stored=${stored} failed=${failed} ` +
    `delivered=${received} stored_per_s=${(stored / elapsed).toFixed(0)} delivered_per_s=${(received / elapsed).toFixed(0)} ` +
    `call_p50_ms=${ms(pct(callLatency, 50))} call_p99_ms=${ms(pct(callLatency, 99))} ` +
    `socket_p50_ms=${ms(pct(latencies, 50))} socket_p99_ms=${ms(pct(latencies, 99))}`);

  // ---- 2. NotifyMany fan-out -------------------------------------------------------------------
  log(`connecting ${SAMPLE} devices for the fan-out sample`);
  await connectDevices(SAMPLE);
  latencies.length = 0;
  received = 0;
  let fanoutStart = 0;
  onNew = () => latencies.push(now() - fanoutStart);
  const recipients = Array.from({ length: FANOUT }, (_, i) => `u${i}`);
  log(`NotifyMany to ${FANOUT} recipients (${SAMPLE} connected)`);
  fanoutStart = now();
  const res = await call("notifyMany", {
    recipientIds: recipients, type: "system_announcement", dedupeKey: "bench-announce",
    data: { title: "Maintenance tonight", body: "02:00-03:00 UTC", link: "/status" },
  });
  const callMs = now() - fanoutStart;
  for (let i = 0; i < 100 && received < SAMPLE; i++) await sleep(50);
  console.log(`RESULT phase=notify_many recipients=${FANOUT} created=${res.created} call_ms=${callMs.toFixed(0)} ` +
    `per_s=${(res.created / (callMs / 1000)).toFixed(0)} sample=${SAMPLE} sample_received=${received} ` +
    `socket_p50_ms=${ms(pct(latencies, 50))} socket_p99_ms=${ms(pct(latencies, 99))} socket_max_ms=${ms(pct(latencies, 100))}`);

  // ---- 3. Naive reference: one transaction per notification ------------------------------------
  const bindir = execFileSync("sh", ["-c", "ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1"]).toString().trim();
  const dir = mkdtempSync(path.join(os.tmpdir(), "sb-bench-naive-"));
  const script = path.join(dir, "naive.sql");
  writeFileSync(script, [
    "\\set r random(1, 10000)",
    "BEGIN;",
    "INSERT INTO notification.notifications (recipient_id, type, title, body, data) " +
      "VALUES ('n' || :r, 'system_announcement', 'Maintenance tonight', '02:00-03:00 UTC', '{}');",
    "INSERT INTO notification.counters (recipient_id, unread) VALUES ('n' || :r, 1) " +
      "ON CONFLICT (recipient_id) DO UPDATE SET unread = notification.counters.unread + 1;",
    "COMMIT;",
  ].join("\n") + "\n");
  const pgbench = (clients, transactions) => {
    const out = execFileSync(path.join(bindir, "pgbench"), [
      "-n", "-h", "127.0.0.1", "-p", String(pg.port), "-U", "postgres", "-c", String(clients), "-j", String(Math.min(clients, 2)),
      "-t", String(transactions), "-f", script, "postgres",
    ]).toString();
    const tps = out.match(/tps = ([\d.]+)/);
    return tps ? Number(tps[1]) : NaN;
  };
  log("naive reference: pgbench, one transaction per notification");
  const loopTps = pgbench(1, FANOUT);
  const concurrentTps = pgbench(CALLERS, Math.ceil(FANOUT / CALLERS));
  console.log(`RESULT phase=naive loop_tps=${loopTps.toFixed(0)} loop_ms_for_${FANOUT}=${(FANOUT / loopTps * 1000).toFixed(0)} ` +
    `concurrent_clients=${CALLERS} concurrent_tps=${concurrentTps.toFixed(0)}`);
} finally {
  await stop();
}
