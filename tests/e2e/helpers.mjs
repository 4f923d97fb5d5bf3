// Shared helpers for the end-to-end tests: start/stop sb-sio-echo, connect socket.io clients.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { io } from "socket.io-client";

const buildDir = process.env.SB_BUILD_DIR || "/work/main/build/dev";
export const echoBinary = process.env.SB_SIO_ECHO || path.join(buildDir, "libs/socketio/sb-sio-echo");

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
