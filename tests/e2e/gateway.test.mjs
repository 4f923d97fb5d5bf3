// End-to-end tests of sb-gateway with the real socket.io-client, a private redis-server and the
// GatewayService over gRPC (@grpc/grpc-js). Each suite starts its own processes on free ports and
// kills them at the end. SB_BUILD_DIR selects the build (default /work/main/build/dev).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { io } from "socket.io-client";
import WebSocket from "ws";
import grpc from "@grpc/grpc-js";
import { gatewayGrpcClient } from "./helpers.mjs";

// Resolves once the client's Engine.IO connection runs on WebSocket (after the polling upgrade).
async function waitForWebSocket(socket) {
  for (let i = 0; i < 100 && socket.io.engine.transport.name !== "websocket"; i++) await sleep(20);
  assert.equal(socket.io.engine.transport.name, "websocket");
}

const buildDir = process.env.SB_BUILD_DIR || "/work/main/build/dev";
const gatewayBinary = process.env.SB_GATEWAY_BIN || path.join(buildDir, "services/gateway/sb-gateway");
const SECRET = "e2e-secret-0123456789-0123456789-abcdef";

const children = new Set();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});

// ---- helpers -------------------------------------------------------------------------------------

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function redisCommand(port, ...args) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    let out = "";
    sock.on("data", (d) => {
      out += d;
      sock.end();
    });
    sock.on("end", () => resolve(out));
    sock.on("error", reject);
    sock.write(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(""));
  });
}

async function startRedis() {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
  children.add(child);
  for (let i = 0; i < 100; i++) {
    try {
      if ((await redisCommand(port, "PING")).startsWith("+PONG")) break;
    } catch {}
    await sleep(50);
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () => {
      child.kill("SIGKILL");
      children.delete(child);
    },
  };
}

async function startGateway(redis, env = {}) {
  if (!existsSync(gatewayBinary)) throw new Error(`sb-gateway not found at ${gatewayBinary} (set SB_BUILD_DIR)`);
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const child = spawn(gatewayBinary, [], {
    env: {
      PATH: process.env.PATH,
      SB_HTTP_PORT: String(httpPort),
      SB_GRPC_PORT: String(grpcPort),
      SB_REDIS_URL: redis.url,
      SB_JWT_SECRET: SECRET,
      SB_LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const url = `http://127.0.0.1:${httpPort}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`sb-gateway exited (${child.exitCode}): ${output}`);
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) break;
    } catch {}
    if (i > 200) throw new Error(`sb-gateway not ready: ${output}`);
    await sleep(50);
  }
  const client = gatewayGrpcClient(`127.0.0.1:${grpcPort}`);
  return {
    url,
    httpPort,
    grpcPort,
    child,
    output: () => output,
    call: client.call,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill(signal);
        const timer = setTimeout(() => child.kill("SIGKILL"), 25_000);
        await exited;
        clearTimeout(timer);
      }
      client.close();
      children.delete(child);
      return child.exitCode;
    },
  };
}

const b64url = (obj) => Buffer.from(typeof obj === "string" ? obj : JSON.stringify(obj)).toString("base64url");

// An HS256 JWT; `claims` overrides the defaults (sub, username, iat, exp in 1 h).
function token(sub, claims = {}, { secret = SECRET, alg = "HS256" } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url({ alg, typ: "JWT" });
  const payload = b64url({ sub, username: sub, iat: now, exp: now + 3600, ...claims });
  if (alg === "none") return `${header}.${payload}.`;
  const sig = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${sig}`;
}

function once(emitter, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timeout waiting for "${event}"`)), ms);
    emitter.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

function noEvent(emitter, event, ms = 400) {
  return new Promise((resolve, reject) => {
    const handler = (...args) => reject(new Error(`unexpected "${event}": ${JSON.stringify(args)}`));
    emitter.once(event, handler);
    setTimeout(() => {
      emitter.off(event, handler);
      resolve();
    }, ms);
  });
}

const sockets = new Set();
function client(url, opts = {}) {
  const s = io(url, { reconnection: false, forceNew: true, timeout: 5000, autoConnect: false, ...opts });
  sockets.add(s);
  return s;
}

// Connects and resolves with [socket, auth:success payload] (auth:success is listened for before
// connecting, since the gateway emits it right after CONNECT).
async function connectAs(url, user, opts = {}) {
  const s = client(url, { auth: { token: token(user) }, ...opts });
  const success = once(s, "auth:success");
  const connected = once(s, "connect");
  const failed = once(s, "connect_error").then(([err]) => {
    throw err;
  });
  s.connect();
  await Promise.race([connected, failed]);
  const [payload] = await success;
  return [s, payload];
}

// Closes a polling session opened with a raw handshake (its OPEN packet text) by sending CLOSE.
async function closePolling(url, openPacket, headers = {}) {
  const { sid } = JSON.parse(openPacket.slice(1));
  await fetch(`${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: "POST", body: "1", headers });
}

async function connectError(url, opts) {
  const s = client(url, opts);
  const err = once(s, "connect_error");
  s.connect();
  const [e] = await err;
  s.close();
  return e;
}

const ack = (s, event, ...args) => s.timeout(3000).emitWithAck(event, ...args);

after(() => {
  for (const s of sockets) s.close();
});

// ---- suites --------------------------------------------------------------------------------------

describe("sb-gateway", () => {
  let redis, A, B;
  before(async () => {
    redis = await startRedis();
    [A, B] = await Promise.all([
      startGateway(redis, { SB_INSTANCE_ID: "gw-a" }),
      startGateway(redis, { SB_INSTANCE_ID: "gw-b" }),
    ]);
  });
  after(async () => {
    await A?.stop();
    await B?.stop();
    redis?.stop();
  });

  test("HTTP: healthz, readyz, metrics, realtime metrics, JSON 404 (REST /api/v1 not served yet)", async () => {
    assert.equal((await fetch(`${A.url}/healthz`)).status, 200);
    assert.equal((await fetch(`${A.url}/readyz`)).status, 200);
    const metrics = await (await fetch(`${A.url}/metrics`)).text();
    assert.match(metrics, /sb_gateway_connections/);
    assert.match(metrics, /sb_gateway_refusals_total/);
    const rt = await (await fetch(`${A.url}/internal/realtime/metrics`)).json();
    assert.equal(rt.instanceId, "gw-a");
    assert.equal(typeof rt.connections, "number");
    const nf = await fetch(`${A.url}/api/v1/chat/conversations`);
    assert.equal(nf.status, 404);
    assert.equal((await nf.json()).error.code, "not_found");
  });

  test("connect with auth.token -> auth:success; the header and query forms work too", async () => {
    const [s, payload] = await connectAs(A.url, "alice");
    assert.deepEqual(payload, { userId: "alice", username: "alice" });
    s.close();
    const [h, hp] = await connectAs(A.url, "hdr", {
      auth: {},
      transports: ["websocket"],
      extraHeaders: { Authorization: `Bearer ${token("hdr")}` },
    });
    assert.equal(hp.userId, "hdr");
    h.close();
    const [q, qp] = await connectAs(A.url, "qry", { auth: {}, query: { token: token("qry") } });
    assert.equal(qp.userId, "qry");
    q.close();
  });

  test("auth via the auth event; other events before it get unauthenticated", async () => {
    const s = client(A.url);
    s.connect();
    await once(s, "connect");
    const early = await ack(s, "room:join", { room: "public:x" });
    assert.equal(early.ok, false);
    assert.equal(early.error.code, "unauthenticated");
    const success = once(s, "auth:success");
    const res = await ack(s, "auth", { token: token("bob") });
    assert.deepEqual(res, { ok: true, data: { userId: "bob", username: "bob" } });
    assert.deepEqual((await success)[0], { userId: "bob", username: "bob" });
    const joined = await ack(s, "room:join", { room: "public:x" });
    assert.equal(joined.ok, true);
    s.close();
  });

  test("auth event with a bad token -> auth:error, error ack, disconnect", async () => {
    const s = client(A.url);
    s.connect();
    await once(s, "connect");
    // The server closes the connection right after its answer (over polling or mid-upgrade the
    // packets wait for the next poll or the upgrade: tests/e2e/socketio.test.mjs covers that).
    await waitForWebSocket(s);
    const authError = once(s, "auth:error");
    const disconnected = once(s, "disconnect");
    const res = await ack(s, "auth", { token: token("eve", {}, { secret: "wrong-secret-wrong-secret-wrong-secret" }) });
    assert.equal(res.ok, false);
    assert.equal(res.error.code, "bad_signature");
    assert.equal((await authError)[0].code, "bad_signature");
    assert.equal((await disconnected)[0], "io server disconnect");
  });

  test("refused tokens: expired, bad signature, alg none -> connect_error with data.code", async () => {
    const past = Math.floor(Date.now() / 1000) - 7200;
    const cases = [
      [token("x", { iat: past - 10, exp: past }), "expired"],
      [token("x", {}, { secret: "another-secret-another-secret-another" }), "bad_signature"],
      [token("x", {}, { alg: "none" }), "alg_not_allowed"],
      ["not-a-jwt", "malformed"],
    ];
    for (const [t, code] of cases) {
      const err = await connectError(A.url, { auth: { token: t } });
      assert.equal(err.data?.code, code, `token for ${code}: ${err.message}`);
      assert.ok(err.message.length > 0);
    }
  });

  for (const transports of [["websocket"], ["polling"]]) {
    test(`${transports[0]}-only client receives a Publish to its user`, async () => {
      const [s] = await connectAs(A.url, `t-${transports[0]}`, { transports });
      const got = once(s, "feed:update");
      const res = await A.call("Publish", { users: { user_ids: [`t-${transports[0]}`] }, event: "feed:update", payload_json: '{"n":1}' });
      assert.equal(res.offsets.length, 1);
      const [payload, offset] = await got;
      assert.deepEqual(payload, { n: 1 });
      assert.equal(offset, res.offsets[0]);
      s.close();
    });
  }

  test("Publish to a user reaches every socket of that user and no one else", async () => {
    const [c1] = await connectAs(A.url, "carol");
    const [c2] = await connectAs(A.url, "carol", { transports: ["websocket"] });
    const [other] = await connectAs(A.url, "dave");
    const g1 = once(c1, "note");
    const g2 = once(c2, "note");
    const none = noEvent(other, "note");
    await A.call("Publish", { users: { user_ids: ["carol"] }, event: "note", payload_json: '"hi"' });
    assert.equal((await g1)[0], "hi");
    assert.equal((await g2)[0], "hi");
    await none;
    for (const s of [c1, c2, other]) s.close();
  });

  test("a Publish sent to instance B reaches a user connected to instance A", async () => {
    const [s] = await connectAs(A.url, "erin");
    const got = once(s, "cross");
    await B.call("Publish", { users: { user_ids: ["erin", "nobody"] }, event: "cross", payload_json: "[1,2]" });
    assert.deepEqual((await got)[0], [1, 2]);
    s.close();
  });

  test("Publish validation: bad requests are INVALID_ARGUMENT with a clear message", async () => {
    const bad = [
      [{ event: "x", payload_json: "{}" }, /target/],
      [{ users: { user_ids: ["u"] }, event: "", payload_json: "{}" }, /event/],
      [{ users: { user_ids: ["u"] }, event: "disconnect", payload_json: "{}" }, /reserved/],
      [{ users: { user_ids: ["u"] }, event: "sb:control:disconnect", payload_json: "{}" }, /internal/],
      [{ users: { user_ids: ["u"] }, event: "x".repeat(65), payload_json: "{}" }, /64/],
      [{ users: { user_ids: ["u"] }, event: "ok", payload_json: "{nope" }, /payload_json/],
      [{ users: { user_ids: Array(10001).fill("u") }, event: "ok", payload_json: "1" }, /10000/],
      // Room events carry no offset: a bare string would be taken by the client for its offset.
      [{ room: "public:lobby", event: "ok", payload_json: '"1700000000000-0"' }, /object or array/],
      [{ room: "public:lobby", event: "ok", payload_json: "null" }, /object or array/],
    ];
    for (const [req, re] of bad) {
      await assert.rejects(A.call("Publish", req), (err) => {
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
        assert.match(err.details, re);
        return true;
      });
    }
  });

  test("rooms: public rooms only; a room Publish reaches members on every instance", async () => {
    const [a] = await connectAs(A.url, "r1");
    const [b] = await connectAs(B.url, "r2");
    const [outsider] = await connectAs(A.url, "r3");
    assert.equal((await ack(a, "room:join", { room: "public:lobby" })).ok, true);
    assert.equal((await ack(b, "room:join", "public:lobby")).ok, true);
    const denied = await ack(outsider, "room:join", { room: "user:r1" });
    assert.equal(denied.ok, false);
    assert.equal(denied.error.code, "forbidden");
    const ga = once(a, "lobby:msg");
    const gb = once(b, "lobby:msg");
    const none = noEvent(outsider, "lobby:msg");
    const res = await B.call("Publish", { room: "public:lobby", event: "lobby:msg", payload_json: '{"t":"hello"}' });
    assert.equal(res.receivers, 2); // both instances are subscribed
    assert.deepEqual((await ga)[0], { t: "hello" });
    assert.deepEqual((await gb)[0], { t: "hello" });
    await none;
    assert.equal((await ack(a, "room:leave", { room: "public:lobby" })).ok, true);
    const left = noEvent(a, "lobby:msg");
    await B.call("Publish", { room: "public:lobby", event: "lobby:msg", payload_json: '{"n":1}' });
    await left;
    for (const s of [a, b, outsider]) s.close();
  });

  test("connection state recovery on a second instance replays the missed event", async () => {
    // Connect to A and receive one event: the client now holds a pid and an offset.
    const [s1] = await connectAs(A.url, "frank", { transports: ["websocket"] });
    const first = once(s1, "evt");
    await A.call("Publish", { users: { user_ids: ["frank"] }, event: "evt", payload_json: '{"i":1}' });
    await first;
    const pid = s1._pid;
    const offset = s1._lastOffset;
    const sid = s1.id;
    assert.ok(pid && offset, "client got a pid and an offset");
    // Drop the transport (not a clean disconnect): A saves the session in Redis.
    s1.io.engine.close();
    await sleep(300);
    const missed = await A.call("Publish", { users: { user_ids: ["frank"] }, event: "evt", payload_json: '{"i":2}' });
    // Reconnect to B presenting pid/offset, as socket.io-client does on reconnection: a fresh
    // client with _pid/_lastOffset set sends them in its CONNECT.
    const s2 = client(B.url, { transports: ["websocket"], auth: { token: token("frank") } });
    s2._pid = pid;
    s2._lastOffset = offset;
    const replay = once(s2, "evt");
    s2.connect();
    await once(s2, "connect");
    assert.equal(s2.recovered, true);
    const [payload, off] = await replay;
    assert.deepEqual(payload, { i: 2 });
    assert.equal(off, missed.offsets[0]);
    assert.equal(s2.id, sid, "the socket keeps its id");
    // Live events keep flowing on B.
    const live = once(s2, "evt");
    await A.call("Publish", { users: { user_ids: ["frank"] }, event: "evt", payload_json: '{"i":3}' });
    assert.deepEqual((await live)[0], { i: 3 });
    s1.close();
    s2.close();
  });

  test("recovery right after the drop finds the session (its save may still be queued)", async () => {
    const [s1] = await connectAs(A.url, "quick", { transports: ["websocket"] });
    const first = once(s1, "evt");
    await A.call("Publish", { users: { user_ids: ["quick"] }, event: "evt", payload_json: '{"i":1}' });
    await first;
    const [pid, offset, sid] = [s1._pid, s1._lastOffset, s1.id];
    s1.io.engine.close();
    // No pause: the CONNECT reaches A while the Save of the dropped session may not have run yet.
    const s2 = client(A.url, { transports: ["websocket"], auth: { token: token("quick") } });
    s2._pid = pid;
    s2._lastOffset = offset;
    s2.connect();
    await once(s2, "connect");
    assert.equal(s2.recovered, true);
    assert.equal(s2.id, sid);
    s1.close();
    s2.close();
  });

  // A socket in a public room drops; room and user events are published meanwhile (through both
  // instances); on reconnecting it gets every one of them once, in publish order.
  async function dropAndPublishMixed(user, room) {
    const [s1] = await connectAs(A.url, user, { transports: ["websocket"] });
    assert.equal((await ack(s1, "room:join", { room })).ok, true);
    const first = once(s1, "mix");
    await B.call("Publish", { room, event: "mix", payload_json: '{"n":0}' });
    await first;
    const [pid, offset, sid] = [s1._pid, s1._lastOffset, s1.id];
    assert.ok(pid && offset, "client got a pid and an offset from the room event");
    s1.io.engine.close(); // a network drop, not a disconnect: the session is saved
    await sleep(300);
    const offsets = [];
    const publish = async (gw, req) => offsets.push(...(await gw.call("Publish", { event: "mix", ...req })).offsets);
    await publish(A, { room, payload_json: '{"n":1}' });
    await publish(B, { users: { user_ids: [user] }, payload_json: '{"n":2}' });
    await publish(A, { room, payload_json: '{"n":3}' });
    await publish(A, { room: "public:elsewhere", payload_json: '{"n":-1}' }); // not a member: not replayed
    offsets.pop();
    await publish(B, { users: { user_ids: [user, "someone-else"] }, payload_json: '{"n":4}' });
    offsets.pop();
    await publish(B, { room, payload_json: '{"n":5}' });
    return { s1, pid, offset, sid, offsets };
  }

  function collect(socket) {
    const got = [];
    socket.on("mix", (payload, off) => got.push([payload.n, off]));
    return got;
  }

  test("recovery replays missed room and user events in order, exactly once (same instance)", async () => {
    const { s1, sid, offsets } = await dropAndPublishMixed("rooma", "public:recov-a");
    // Reconnecting the same client object presents its pid and last offset, as the manager does.
    const got = collect(s1);
    const reconnected = once(s1, "connect");
    s1.connect();
    await reconnected;
    assert.equal(s1.recovered, true);
    assert.equal(s1.id, sid);
    await sleep(300);
    assert.deepEqual(got, [1, 2, 3, 4, 5].map((n, i) => [n, offsets[i]]));
    // The room membership came back: a live room event arrives once, after the replay.
    await A.call("Publish", { room: "public:recov-a", event: "mix", payload_json: '{"n":6}' });
    await sleep(300);
    assert.deepEqual(got.map(([n]) => n), [1, 2, 3, 4, 5, 6]);
    s1.close();
  });

  test("recovery on a second instance replays missed room and user events in order, exactly once", async () => {
    const { s1, pid, offset, sid, offsets } = await dropAndPublishMixed("roomb", "public:recov-b");
    const s2 = client(B.url, { transports: ["websocket"], auth: { token: token("roomb") } });
    s2._pid = pid;
    s2._lastOffset = offset;
    const got = collect(s2);
    s2.connect();
    await once(s2, "connect");
    assert.equal(s2.recovered, true);
    assert.equal(s2.id, sid);
    await sleep(300);
    assert.deepEqual(got, [1, 2, 3, 4, 5].map((n, i) => [n, offsets[i]]));
    // B subscribed the room for the recovered socket: live room events flow there.
    await A.call("Publish", { room: "public:recov-b", event: "mix", payload_json: '{"n":6}' });
    await sleep(300);
    assert.deepEqual(got.map(([n]) => n), [1, 2, 3, 4, 5, 6]);
    s1.close();
    s2.close();
  });

  test("an unknown event with an ack is answered unknown_event; without an ack nothing breaks", async () => {
    const [s] = await connectAs(A.url, "curious");
    s.emit("no:such:event", { a: 1 }); // no ack requested: ignored
    const res = await ack(s, "no:such:event", { a: 1 });
    assert.deepEqual(res, { ok: false, error: { code: "unknown_event", message: "unknown event: no:such:event" } });
    assert.equal(s.connected, true);
    s.close();
  });

  test("recovery with an unknown pid or an offset outside the stream -> recovered false", async () => {
    const s = client(B.url, { auth: { token: token("gina") } });
    s._pid = "no-such-pid";
    s._lastOffset = "1-0";
    s.connect();
    await once(s, "connect");
    assert.equal(s.recovered, false);
    s.close();
  });

  test("DisconnectUser disconnects the user's sockets on both instances", async () => {
    const [a] = await connectAs(A.url, "hank");
    const [b] = await connectAs(B.url, "hank", { transports: ["websocket"] });
    const [other] = await connectAs(B.url, "ivy");
    const da = once(a, "disconnect");
    const db = once(b, "disconnect");
    const errA = once(a, "error");
    const none = noEvent(other, "disconnect");
    const res = await B.call("DisconnectUser", { user_id: "hank", reason: "account suspended" });
    assert.equal(res.receivers, 2);
    assert.equal((await da)[0], "io server disconnect");
    assert.equal((await db)[0], "io server disconnect");
    assert.deepEqual((await errA)[0], { code: "disconnected", message: "account suspended" });
    await none;
    other.close();
  });

  test("Stats reports this instance's counters", async () => {
    const [s] = await connectAs(A.url, "stats-user");
    const stats = await A.call("Stats", {});
    assert.equal(stats.instance_id, "gw-a");
    assert.ok(stats.connections >= 1);
    assert.ok(stats.sockets >= 1);
    assert.ok(stats.bus_subscriptions >= 1);
    assert.ok(stats.refusals_by_reason.bad_signature >= 1);
    s.close();
  });
});

describe("sb-gateway guardrails", () => {
  let redis, G;
  before(async () => {
    redis = await startRedis();
    G = await startGateway(redis, {
      SB_JWT_AUDIENCE: "switchboard-e2e",
      SB_ALLOWED_ORIGINS: "https://app.example",
      SB_MAX_CONNECTIONS_PER_IP: "3",
      SB_EVENT_RATE: "2",
      SB_EVENT_BURST: "3",
      SB_ABUSE_THRESHOLD: "8",
      SB_AUTH_TIMEOUT: "1s",
      SB_IDLE_TIMEOUT: "2s",
      SB_MAX_ROOMS_PER_SOCKET: "2",
    });
  });
  after(async () => {
    await G?.stop();
    redis?.stop();
  });
  const aud = (user) => token(user, { aud: "switchboard-e2e" });

  test("wrong audience -> connect_error bad_audience", async () => {
    const err = await connectError(G.url, { auth: { token: token("x", { aud: "other" }) } });
    assert.equal(err.data.code, "bad_audience");
    const [s] = await connectAs(G.url, "y", { auth: { token: aud("y") } });
    s.close();
  });

  test("disallowed Origin is refused 403 on polling and websocket handshakes", async () => {
    const res = await fetch(`${G.url}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: "https://evil.example" } });
    assert.equal(res.status, 403);
    assert.match(await res.text(), /origin not allowed/);
    const ok = await fetch(`${G.url}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: "https://app.example" } });
    assert.equal(ok.status, 200);
    await closePolling(G.url, await ok.text(), { Origin: "https://app.example" }); // frees its per-IP slot
    const err = await connectError(G.url, {
      transports: ["websocket"],
      extraHeaders: { Origin: "https://evil.example" },
      auth: { token: aud("z") },
    });
    assert.ok(err);
  });

  test("max connections per IP counts Engine.IO connections; the refusal is a readable 403", async () => {
    const open = [];
    for (let i = 0; i < 3; i++) open.push((await connectAs(G.url, `ip${i}`, { auth: { token: aud(`ip${i}`) } }))[0]);
    const err = await connectError(G.url, { auth: { token: aud("ip3") } });
    assert.equal(err.description, 403); // refused at the Engine.IO handshake, before any CONNECT
    const res = await fetch(`${G.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(res.status, 403);
    assert.deepEqual(await res.json(), { code: 4, message: "too many connections from 127.0.0.1 (max 3)" });
    open[0].close();
    await sleep(200);
    const [again] = await connectAs(G.url, "ip4", { auth: { token: aud("ip4") } });
    again.close();
    for (const s of open) s.close();
    await sleep(200);
  });

  test("event rate limit -> rate_limited error ack", async () => {
    const [s] = await connectAs(G.url, "spammer", { auth: { token: aud("spammer") } });
    const results = await Promise.all(Array.from({ length: 6 }, () => ack(s, "room:leave", { room: "public:a" })));
    const limited = results.filter((r) => !r.ok && r.error.code === "rate_limited");
    assert.ok(results.filter((r) => r.ok).length >= 3, JSON.stringify(results));
    assert.ok(limited.length >= 1, JSON.stringify(results));
    s.close();
  });

  test("max rooms per socket", async () => {
    const [s] = await connectAs(G.url, "roomy", { auth: { token: aud("roomy") } });
    assert.equal((await ack(s, "room:join", { room: "public:1" })).ok, true);
    assert.equal((await ack(s, "room:join", { room: "public:2" })).ok, true);
    await sleep(600);
    const third = await ack(s, "room:join", { room: "public:3" });
    assert.equal(third.ok, false);
    assert.equal(third.error.code, "limit_exceeded");
    s.close();
  });

  test("no auth event within SB_AUTH_TIMEOUT -> auth:error auth_timeout and disconnect", async () => {
    const s = client(G.url);
    const authError = once(s, "auth:error", 4000);
    const disconnected = once(s, "disconnect", 4000);
    s.connect();
    assert.equal((await authError)[0].code, "auth_timeout");
    assert.equal((await disconnected)[0], "io server disconnect");
  });

  test("an auth timeout closes the Engine.IO connection too (no fresh auth window by re-CONNECT)", async () => {
    // A raw Engine.IO WebSocket client: after auth:error and the DISCONNECT the server must close
    // the connection, not keep the Engine.IO session alive for another CONNECT.
    const ws = new WebSocket(`ws://127.0.0.1:${G.httpPort}/socket.io/?EIO=4&transport=websocket`);
    const frames = [];
    const closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
    ws.on("message", (data) => {
      const text = data.toString();
      frames.push(text);
      if (text.startsWith("0")) ws.send("40");
      if (text === "2") ws.send("3");
    });
    const timer = setTimeout(() => ws.terminate(), 5000);
    const code = await closed;
    clearTimeout(timer);
    const authError = frames.findIndex((f) => f.startsWith("42") && f.includes("auth_timeout"));
    assert.ok(authError >= 0, JSON.stringify(frames));
    assert.ok(frames.indexOf("41") > authError, `DISCONNECT after auth:error: ${JSON.stringify(frames)}`);
    assert.equal(code, 1000, `closed by the server, not by the 5 s guard: ${JSON.stringify(frames)}`);
  });

  test("idle sockets are evicted with reason idle timeout", async () => {
    const [s] = await connectAs(G.url, "sleepy", { auth: { token: aud("sleepy") } });
    const err = once(s, "error", 5000);
    const disconnected = once(s, "disconnect", 5000);
    assert.deepEqual((await err)[0], { code: "idle_timeout", message: "idle timeout" });
    assert.equal((await disconnected)[0], "io server disconnect");
    const rt = await (await fetch(`${G.url}/internal/realtime/metrics`)).json();
    assert.ok(rt.evictions >= 1);
    assert.ok(rt.refusals.origin_not_allowed >= 1);
    assert.ok(rt.refusals.rate_limited >= 1);
  });

  test("SIGTERM: readyz turns 503, clients are disconnected, the process exits 0", async () => {
    const [s] = await connectAs(G.url, "last", { auth: { token: aud("last") } });
    // Over WebSocket the server's close is "transport close"; polling clients would see the
    // shutdown's DISCONNECT ("io server disconnect") first.
    await waitForWebSocket(s);
    const disconnected = once(s, "disconnect", 10_000);
    const exit = G.stop("SIGTERM");
    const [reason] = await disconnected;
    assert.equal(reason, "transport close");
    assert.equal(await exit, 0);
  });
});

describe("sb-gateway connections per IP", () => {
  let redis, G, P;
  before(async () => {
    redis = await startRedis();
    [G, P] = await Promise.all([
      startGateway(redis, { SB_MAX_CONNECTIONS_PER_IP: "2" }),
      startGateway(redis, { SB_MAX_CONNECTIONS_PER_IP: "1", SB_TRUSTED_PROXIES: "127.0.0.1" }),
    ]);
  });
  after(async () => {
    await G?.stop();
    await P?.stop();
    redis?.stop();
  });

  const handshake = (url, headers = {}) => fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers });
  const wsRefusal = (url, headers = {}) =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`${url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`, { headers });
      ws.on("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode, body }));
      });
      ws.on("open", () => {
        ws.close();
        reject(new Error("websocket admitted"));
      });
      ws.on("error", () => {});
    });

  test("sessions that never CONNECT count; websocket and polling alike; closing frees the slot", async () => {
    const first = await handshake(G.url);
    const second = await handshake(G.url, { "X-Forwarded-For": "10.1.1.1" }); // ignored: no trusted proxy
    assert.equal(first.status, 200);
    assert.equal(second.status, 200);
    const refused = await handshake(G.url, { "X-Forwarded-For": "10.2.2.2" });
    assert.equal(refused.status, 403);
    assert.deepEqual(await refused.json(), { code: 4, message: "too many connections from 127.0.0.1 (max 2)" });
    const ws = await wsRefusal(G.url);
    assert.equal(ws.status, 403);
    assert.match(ws.body, /too many connections from 127\.0\.0\.1 \(max 2\)/);
    const rt = await (await fetch(`${G.url}/internal/realtime/metrics`)).json();
    assert.equal(rt.refusals.too_many_connections_per_ip, 2);
    const metrics = await (await fetch(`${G.url}/metrics`)).text();
    assert.match(metrics, /sb_gateway_refusals_total\{reason="too_many_connections_per_ip"\} 2/);

    await closePolling(G.url, await first.text());
    await sleep(100);
    const again = await handshake(G.url);
    assert.equal(again.status, 200);
    await closePolling(G.url, await again.text());
    await closePolling(G.url, await second.text());
  });

  test("behind a trusted proxy, X-Forwarded-For names the client", async () => {
    const a = await handshake(P.url, { "X-Forwarded-For": "203.0.113.9, 127.0.0.1" });
    assert.equal(a.status, 200);
    const sameClient = await handshake(P.url, { "X-Forwarded-For": "203.0.113.9" });
    assert.equal(sameClient.status, 403);
    assert.match((await sameClient.json()).message, /too many connections from 203\.0\.113\.9 \(max 1\)/);
    const otherClient = await handshake(P.url, { "X-Forwarded-For": "198.51.100.4" });
    assert.equal(otherClient.status, 200);
    await closePolling(P.url, await a.text());
    await closePolling(P.url, await otherClient.text());
  });
});

describe("sb-gateway start-up failure", () => {
  test("an unusable Redis URL ends the process cleanly with an error line (no crash)", async () => {
    const child = spawn(gatewayBinary, [], {
      env: { PATH: process.env.PATH, SB_REDIS_URL: "rediss://x", SB_JWT_SECRET: SECRET, SB_HTTP_PORT: "0", SB_GRPC_PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.add(child);
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const [code, signal] = await once(child, "exit", 10_000);
    children.delete(child);
    assert.equal(signal, null, `killed by ${signal}: ${output}`);
    assert.notEqual(code, 0);
    assert.match(output, /gateway cannot start/);
  });
});

describe("sb-gateway bus reconnect", () => {
  let redis, G;
  before(async () => {
    redis = await startRedis();
    G = await startGateway(redis, { SB_INSTANCE_ID: "gw-r" });
  });
  after(async () => {
    await G?.stop();
    redis?.stop();
  });

  test("after the bus subscriber reconnects, clients reconnect and recover events of the gap", async () => {
    const s = client(G.url, {
      transports: ["websocket"],
      auth: { token: token("resync") },
      reconnection: true,
      reconnectionDelay: 50,
      reconnectionDelayMax: 200,
    });
    const received = [];
    s.on("evt", (p) => received.push(p.i));
    const authed = once(s, "auth:success");
    s.connect();
    await authed;
    const first = once(s, "evt");
    await G.call("Publish", { users: { user_ids: ["resync"] }, event: "evt", payload_json: '{"i":1}' });
    await first;
    const disconnected = once(s, "disconnect");
    // Drop the gateway's subscriber connection; publish while it is away.
    assert.match(await redisCommand(redis.port, "CLIENT", "KILL", "TYPE", "pubsub"), /^:[1-9]/);
    await G.call("Publish", { users: { user_ids: ["resync"] }, event: "evt", payload_json: '{"i":2}' });
    const [reason] = await disconnected;
    assert.equal(reason, "transport close");
    await once(s, "connect");
    assert.equal(s.recovered, true);
    for (let i = 0; i < 50 && !received.includes(2); i++) await sleep(50);
    assert.deepEqual(received, [1, 2]);
    const live = once(s, "evt");
    await G.call("Publish", { users: { user_ids: ["resync"] }, event: "evt", payload_json: '{"i":3}' });
    assert.deepEqual((await live)[0], { i: 3 });
    s.close();
  });
});
