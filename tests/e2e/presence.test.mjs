// End-to-end tests of presence: sb-chat + sb-presence + sb-gateway with a private Postgres and
// redis-server, driven by the real socket.io-client and fetch (REST). SB_BUILD_DIR selects the
// build (default /work/main/build/dev).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { connect, freePort, mintToken, once, sleep, startPostgres, startProcess, startRedis } from "./helpers.mjs";

const buildDir = process.env.SB_BUILD_DIR || "/work/main/build/dev";
const chatBinary = process.env.SB_CHAT_BIN || path.join(buildDir, "services/chat/sb-chat");
const presenceBinary = process.env.SB_PRESENCE_BIN || path.join(buildDir, "services/presence/sb-presence");
const gatewayBinary = process.env.SB_GATEWAY_BIN || path.join(buildDir, "services/gateway/sb-gateway");
const SECRET = "e2e-presence-secret-0123456789-0123456789";

const httpReady = (url) => async () => (await fetch(url)).status === 200;

describe("presence through the gateway", () => {
  let pg, redis, chat, presence, gateway, url;
  const sockets = [];

  before(async () => {
    for (const bin of [chatBinary, presenceBinary, gatewayBinary]) {
      if (!existsSync(bin)) throw new Error(`${bin} not found (set SB_BUILD_DIR)`);
    }
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    const [chatGrpc, chatHttp, prGrpc, prHttp, gwHttp, gwGrpc] = await Promise.all(
      [freePort(), freePort(), freePort(), freePort(), freePort(), freePort()]);
    chat = await startProcess("sb-chat", chatBinary, [], {
      env: { SB_GRPC_PORT: String(chatGrpc), SB_HTTP_PORT: String(chatHttp), SB_POSTGRES_URL: pg.url,
             SB_REDIS_URL: redis.url, SB_LOG_LEVEL: "warn" },
      ready: httpReady(`http://127.0.0.1:${chatHttp}/readyz`),
    });
    presence = await startProcess("sb-presence", presenceBinary, [], {
      env: { SB_GRPC_PORT: String(prGrpc), SB_HTTP_PORT: String(prHttp), SB_POSTGRES_URL: pg.url,
             SB_REDIS_URL: redis.url, SB_CHAT_ADDR: `127.0.0.1:${chatGrpc}`, SB_PRESENCE_DEBOUNCE: "1s",
             SB_PRESENCE_SWEEP_INTERVAL: "200ms", SB_PRESENCE_FLUSH_INTERVAL: "500ms", SB_LOG_LEVEL: "warn" },
      ready: httpReady(`http://127.0.0.1:${prHttp}/readyz`),
    });
    gateway = await startProcess("sb-gateway", gatewayBinary, [], {
      env: { SB_HTTP_PORT: String(gwHttp), SB_GRPC_PORT: String(gwGrpc), SB_REDIS_URL: redis.url,
             SB_JWT_SECRET: SECRET, SB_CHAT_ADDR: `127.0.0.1:${chatGrpc}`, SB_PRESENCE_ADDR: `127.0.0.1:${prGrpc}`,
             SB_LOG_LEVEL: "warn" },
      ready: httpReady(`http://127.0.0.1:${gwHttp}/readyz`),
    });
    url = `http://127.0.0.1:${gwHttp}`;
  });

  after(async () => {
    for (const s of sockets) s.disconnect();
    const codes = {};
    if (gateway) codes.gateway = await gateway.stop();
    if (presence) codes.presence = await presence.stop();
    if (chat) codes.chat = await chat.stop();
    if (redis) await redis.stop();
    if (pg) await pg.stop();
    assert.deepEqual(codes, { gateway: 0, presence: 0, chat: 0 }, "services exit cleanly on SIGTERM");
  });

  const token = (user) => mintToken(SECRET, { sub: user, username: `${user}-name` });

  async function client(user, extra = {}) {
    const socket = await connect(url, { auth: { token: token(user), ...extra }, transports: ["websocket"] });
    sockets.push(socket);
    return socket;
  }

  async function rest(user, method, route, body) {
    const headers = { "content-type": "application/json" };
    if (user) headers.authorization = `Bearer ${token(user)}`;
    const res = await fetch(`${url}/api/v1${route}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: await res.json() };
  }

  const emit = (socket, event, payload) => socket.timeout(5_000).emitWithAck(event, payload);
  const statusOf = async (viewer, ids) => {
    const r = await rest(viewer, "GET", `/users/online-status?userIds=${ids.map(encodeURIComponent).join(",")}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return Object.fromEntries(r.body.users.map((u) => [u.userId, u]));
  };
  // Polls until `check` passes (presence state settles through the bus and the sweep).
  async function eventually(check, ms = 5_000) {
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        return await check();
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(100);
      }
    }
  }

  let conversationId;
  let alice;

  test("A watches B; B on two devices, both leave: A sees online once and offline once, with lastSeen", async () => {
    const created = await rest("alice", "POST", "/chat/conversations", { participantId: "bob" });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    conversationId = created.body.conversation.id;

    alice = await client("alice");
    const sub = await emit(alice, "presence:subscribe", { userIds: ["bob", "carol"] });
    assert.equal(sub.ok, true, JSON.stringify(sub));
    assert.deepEqual(sub.data.denied, ["carol"]);
    assert.equal(sub.data.users.length, 1);
    assert.equal(sub.data.users[0].userId, "bob");
    assert.equal(sub.data.users[0].isOnline, false);
    assert.equal(sub.data.users[0].status, "offline");
    await sleep(300);  // the gateway subscribes sb:p:bob asynchronously

    const seen = [];
    alice.on("user:online", (p) => seen.push(["online", p]));
    alice.on("user:offline", (p) => seen.push(["offline", p]));

    const laptop = await client("bob", { device: "laptop", platform: "web" });
    const [[online]] = await Promise.all([once(alice, "user:online", 5_000)]);
    assert.equal(online.userId, "bob");
    assert.equal(online.status, "online");
    const phone = await client("bob", { device: "phone", platform: "ios" });
    await sleep(300);
    laptop.disconnect();
    await sleep(1_500);  // longer than the debounce: bob still has the phone
    assert.equal(seen.filter(([k]) => k === "offline").length, 0, "no offline while a device remains");
    const before = Date.now();
    phone.disconnect();
    const [offline] = await once(alice, "user:offline", 6_000);
    assert.equal(offline.userId, "bob");
    const lastSeen = Date.parse(offline.lastSeen);
    assert.ok(Number.isFinite(lastSeen), `lastSeen: ${offline.lastSeen}`);
    assert.ok(Math.abs(lastSeen - before) < 2_000, `lastSeen ${offline.lastSeen} near the disconnect`);
    await sleep(1_000);
    assert.deepEqual(seen.map(([k]) => k), ["online", "offline"]);

    const status = await statusOf("alice", ["bob"]);
    assert.equal(status.bob.isOnline, false);
    assert.equal(status.bob.lastSeen, offline.lastSeen);
  });

  test("a quick reconnect produces no offline/online storm", async () => {
    const seen = [];
    const onOnline = () => seen.push("online");
    const onOffline = () => seen.push("offline");
    alice.on("user:online", onOnline);
    alice.on("user:offline", onOffline);
    const bob = await client("bob");
    await eventually(async () => assert.deepEqual(seen, ["online"]));
    bob.disconnect();
    await sleep(200);
    const bobAgain = await client("bob");  // e.g. a page reload, within the debounce
    await sleep(2_000);
    assert.deepEqual(seen, ["online"]);
    assert.equal((await statusOf("alice", ["bob"])).bob.isOnline, true);
    bobAgain.disconnect();
    await eventually(async () => assert.deepEqual(seen, ["online", "offline"]), 6_000);
    alice.off("user:online", onOnline);
    alice.off("user:offline", onOffline);
  });

  test("status changes reach watchers; appear-offline looks offline", async () => {
    const bob = await client("bob");
    await eventually(async () => assert.equal((await statusOf("alice", ["bob"])).bob.isOnline, true));

    const away = once(alice, "presence:update");
    const ack = await emit(bob, "presence:away", {});
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assert.equal(ack.data.status, "away");
    const [update] = await away;
    assert.equal(update.userId, "bob");
    assert.equal(update.status, "away");

    const activity = once(alice, "presence:update");
    assert.equal((await emit(bob, "presence:update", { activity: "reading /inbox" })).ok, true);
    const [act] = await activity;
    assert.equal(act.activity, "reading /inbox");

    const gone = once(alice, "user:offline");
    const hidden = await emit(bob, "presence:offline", {});
    assert.equal(hidden.ok, true);
    assert.equal(hidden.data.isOnline, false);
    await gone;
    const status = await statusOf("alice", ["bob"]);
    assert.equal(status.bob.isOnline, false);
    assert.equal(status.bob.status, "offline");
    assert.equal(status.bob.activity, "");

    const back = once(alice, "user:online");
    assert.equal((await emit(bob, "presence:online", {})).ok, true);
    await back;
    bob.disconnect();
  });

  test("users without a shared conversation look offline; group presence is for members", async () => {
    const carol = await client("carol");
    await sleep(300);
    const status = await statusOf("alice", ["carol", "alice"]);
    assert.equal(status.carol.isOnline, false, "carol is online but shares no conversation with alice");
    assert.equal(status.carol.lastSeen, null);
    assert.equal(status.alice.isOnline, true, "a user sees itself");

    const denied = await emit(carol, "presence:subscribe", { userIds: ["alice"] });
    assert.equal(denied.ok, true);
    assert.deepEqual(denied.data.denied, ["alice"]);
    assert.deepEqual(denied.data.users, []);

    const group = await rest("alice", "GET", `/presence/${conversationId}`);
    assert.equal(group.status, 200, JSON.stringify(group.body));
    assert.deepEqual(group.body.users.map((u) => u.userId).sort(), ["alice", "bob"]);
    assert.equal((await rest("carol", "GET", `/presence/${conversationId}`)).status, 403);
    carol.disconnect();
  });

  test("bad input is refused", async () => {
    const bad = await emit(alice, "presence:subscribe", { userIds: "bob" });
    assert.equal(bad.ok, false);
    assert.equal(bad.error.code, "invalid_argument");
    const tooLong = await emit(alice, "presence:update", { activity: "x".repeat(300) });
    assert.equal(tooLong.ok, false);
    assert.equal(tooLong.error.code, "invalid_argument");
    assert.equal((await rest("alice", "GET", "/users/online-status")).status, 422);
    // More ids than a socket may watch (SB_MAX_WATCHED_PER_SOCKET, 200): refused, nothing watched.
    // (The 1,000-id cap of GetStatuses is covered by presence_test: the gateway's HTTP parser
    // refuses request heads over ~1 KB, so such a query string cannot be sent over REST.)
    const many = Array.from({ length: 201 }, (_, i) => `u${i}`);
    const capped = await emit(alice, "presence:subscribe", { userIds: many });
    assert.equal(capped.ok, false);
    assert.equal(capped.error.code, "invalid_argument");
    assert.equal((await rest(null, "GET", "/users/online-status?userIds=bob")).status, 401);
    assert.equal((await rest("alice", "GET", "/presence/abc")).status, 400);
  });
});
