// Shared helpers for the end-to-end tests: start/stop sb-sio-echo, connect socket.io clients.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import { io } from "socket.io-client";

const buildDir = process.env.SB_BUILD_DIR || "/work/main/build/dev";
export const echoBinary = process.env.SB_SIO_ECHO || path.join(buildDir, "libs/socketio/sb-sio-echo");

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

// A unary client of `service` (full name, e.g. "switchboard.gateway.v1.GatewayService") from
// proto/`protoFile`: call(method, request) resolves with the response (5 s deadline) or rejects with
// the gRPC error; close() ends it. `loaderOptions` override the proto-loader defaults below.
export function grpcClient(protoFile, service, address, loaderOptions = {}) {
  const def = protoLoader.loadSync(protoFile, {
    includeDirs: [path.join(repoRoot, "proto")],
    keepCase: true,
    longs: Number,
    defaults: true,
    oneofs: true,
    ...loaderOptions,
  });
  const Service = service.split(".").reduce((ns, name) => ns[name], grpc.loadPackageDefinition(def));
  const client = new Service(address, grpc.credentials.createInsecure());
  return {
    call: (method, request) =>
      new Promise((resolve, reject) =>
        client[method](request, { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res))),
      ),
    close: () => client.close(),
  };
}

export const gatewayGrpcClient = (address) =>
  grpcClient("switchboard/gateway/v1/gateway.proto", "switchboard.gateway.v1.GatewayService", address);

const running = new Set();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

// Starts sb-sio-echo on an ephemeral port; resolves with { port, url, stop() } once it prints
// "listening on PORT".
export async function startServer(args = []) {
  if (!existsSync(echoBinary)) throw new Error(`sb-sio-echo not found at ${echoBinary} (set SB_BUILD_DIR)`);
  // SB_SIO_THREADS runs the server with several io threads (thread-safety runs).
  const threads = process.env.SB_SIO_THREADS ? ["--threads", process.env.SB_SIO_THREADS] : [];
  const child = spawn(echoBinary, ["--port", "0", ...threads, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const port = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 10_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited early (${code}): ${stderr}`));
    });
  });
  // Stops the server with SIGTERM and checks that it shut down cleanly: exit code 0 and no
  // sanitizer report (when built with SB_SANITIZE).
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    running.delete(child);
    if (child.exitCode !== 0 || /Sanitizer|runtime error/.test(stderr)) {
      throw new Error(`sb-sio-echo did not exit cleanly (code ${child.exitCode}, signal ${child.signalCode}): ${stderr}`);
    }
  };
  return { port, url: `http://127.0.0.1:${port}`, child, stop, alive: () => child.exitCode === null && child.signalCode === null };
}

// Resolves with the first emission of `event` (its argument list), or rejects after `ms`.
export function once(emitter, event, ms = 5_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout waiting for "${event}"`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

// A connected socket.io client; rejects on connect_error or timeout.
export async function connect(url, opts = {}) {
  const socket = io(url, { reconnection: false, forceNew: true, timeout: 5_000, ...opts, autoConnect: false });
  const connected = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("connect timeout")), 8_000);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("connect_error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  socket.connect();
  await connected;
  return socket;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Emits `event` with an ack; resolves with ALL the ack's arguments (emitWithAck keeps only the first).
export function ackAll(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(5_000).emit(event, ...args, (err, ...reply) => (err ? reject(err) : resolve(reply)));
  });
}

// ---- service stack helpers (chat e2e; usable by any suite) -------------------------------------

import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import net from "node:net";
import os from "node:os";

// A TCP port on 127.0.0.1 that was free a moment ago.
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

// An HS256 JWT signed with `secret`; `claims` overrides sub/username/iat/exp (1 h).
export function mintToken(secret, claims = {}) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub: "user-1", username: "user1", iat: now, exp: now + 3600, ...claims })}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

function tcpReady(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

// Spawns a long-running child (killed with the test process); `ready()` is polled until true.
// Resolves with { child, output(), stop() }; stop() sends SIGTERM and resolves with the exit code.
export async function startProcess(name, command, args, { env = {}, ready, timeoutMs = 20_000 } = {}) {
  const child = spawn(command, args, { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited (${child.exitCode}): ${output}`);
    if (await ready().catch(() => false)) break;
    if (Date.now() > deadline) throw new Error(`${name} not ready: ${output}`);
    await sleep(50);
  }
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await exited;
      clearTimeout(timer);
    }
    running.delete(child);
    return child.exitCode;
  };
  return { child, output: () => output, stop };
}

// A private redis-server on a free port.
export async function startRedis() {
  const port = await freePort();
  const proc = await startProcess("redis-server", "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { ready: () => tcpReady(port) });
  return { ...proc, port, url: `redis://127.0.0.1:${port}` };
}

// A private Postgres (initdb in a temp dir, trust auth) on a free port. As root, Postgres runs as
// the `postgres` user (it refuses root), like libs/testing and tools/dev do.
export async function startPostgres() {
  const bindir = process.env.SB_PG_BINDIR ||
    execFileSync("sh", ["-c", "ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1"]).toString().trim();
  const root = process.getuid && process.getuid() === 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), "sb-e2e-pg-"));
  const asPg = (cmd, args) => (root ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args]);
  if (root) execFileSync("chown", ["postgres:postgres", dir]);
  const data = path.join(dir, "data");
  const [initCmd, initArgs] = asPg(path.join(bindir, "initdb"), ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"]);
  execFileSync(initCmd, initArgs, { stdio: "ignore" });
  const port = await freePort();
  const [cmd, args] = asPg(path.join(bindir, "postgres"),
    ["-D", data, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-k", dir]);
  // Signals to runuser do not reliably reach postgres: stop it with pg_ctl, also when the test
  // process exits early.
  const pgCtl = (mode) => {
    const [c, a] = asPg(path.join(bindir, "pg_ctl"), ["-D", data, "-m", mode, "-w", "stop"]);
    try {
      execFileSync(c, a, { stdio: "ignore" });
    } catch {}
  };
  const onExit = () => pgCtl("immediate");
  process.on("exit", onExit);
  const proc = await startProcess("postgres", cmd, args, { ready: () => tcpReady(port), timeoutMs: 30_000 });
  return {
    ...proc,
    port,
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      pgCtl("fast");
      process.off("exit", onExit);
      const code = await proc.stop();
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
