// End-to-end tests of chat: sb-chat + sb-gateway with a private Postgres and redis-server, driven
// by the real socket.io-client and fetch (REST). SB_BUILD_DIR selects the build (default
// /work/main/build/dev).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { io } from "socket.io-client";
import {
  connect, freePort, gatewayGrpcClient, mintToken, once, sleep, startPostgres, startProcess, startRedis,
} from "./helpers.mjs";

const buildDir = process.env.SB_BUILD_DIR || "/work/main/build/dev";
const chatBinary = process.env.SB_CHAT_BIN || path.join(buildDir, "services/chat/sb-chat");
const gatewayBinary = process.env.SB_GATEWAY_BIN || path.join(buildDir, "services/gateway/sb-gateway");
const SECRET = "e2e-chat-secret-0123456789-0123456789";

const httpReady = (url) => async () => (await fetch(url)).status === 200;

describe("chat through the gateway", () => {
  let pg, redis, chat, gateway, url;
  // A second gateway instance on the same Redis and chat (recovery across instances), and a
  // GatewayService client of the first one (room Publish).
  let gatewayB, urlB, grpcA;
  const sockets = [];

  before(async () => {
    for (const bin of [chatBinary, gatewayBinary]) {
      if (!existsSync(bin)) throw new Error(`${bin} not found (set SB_BUILD_DIR)`);
    }
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    const [chatGrpc, chatHttp, gwHttp, gwGrpc] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    chat = await startProcess("sb-chat", chatBinary, [], {
      env: {
        SB_GRPC_PORT: String(chatGrpc),
        SB_HTTP_PORT: String(chatHttp),
        SB_POSTGRES_URL: pg.url,
        SB_REDIS_URL: redis.url,
        SB_LOG_LEVEL: "warn",
      },
      ready: httpReady(`http://127.0.0.1:${chatHttp}/readyz`),
    });
    gateway = await startProcess("sb-gateway", gatewayBinary, [], {
      env: {
        SB_HTTP_PORT: String(gwHttp),
        SB_GRPC_PORT: String(gwGrpc),
        SB_REDIS_URL: redis.url,
        SB_JWT_SECRET: SECRET,
        SB_CHAT_ADDR: `127.0.0.1:${chatGrpc}`,
        SB_LOG_LEVEL: "warn",
      },
      ready: httpReady(`http://127.0.0.1:${gwHttp}/readyz`),
    });
    url = `http://127.0.0.1:${gwHttp}`;
    grpcA = gatewayGrpcClient(`127.0.0.1:${gwGrpc}`);
    const [bHttp, bGrpc] = await Promise.all([freePort(), freePort()]);
    gatewayB = await startProcess("sb-gateway-b", gatewayBinary, [], {
      env: {
        SB_HTTP_PORT: String(bHttp),
        SB_GRPC_PORT: String(bGrpc),
        SB_REDIS_URL: redis.url,
        SB_JWT_SECRET: SECRET,
        SB_CHAT_ADDR: `127.0.0.1:${chatGrpc}`,
        SB_LOG_LEVEL: "warn",
      },
      ready: httpReady(`http://127.0.0.1:${bHttp}/readyz`),
    });
    urlB = `http://127.0.0.1:${bHttp}`;
  });

  after(async () => {
    for (const s of sockets) s.disconnect();
    if (grpcA) grpcA.close();
    const codes = {};
    if (gateway) codes.gateway = await gateway.stop();
    if (gatewayB) codes.gatewayB = await gatewayB.stop();
    if (chat) codes.chat = await chat.stop();
    if (redis) await redis.stop();
    if (pg) await pg.stop();
    // The last test stops chat itself (and checks its exit code there).
    assert.deepEqual(codes, chat ? { gateway: 0, gatewayB: 0, chat: 0 } : { gateway: 0, gatewayB: 0 },
                     "services exit cleanly on SIGTERM");
  });

  const token = (user) => mintToken(SECRET, { sub: user, username: `${user}-name`, avatar: `https://img.example/${user}.png` });

  // A connected, authenticated socket whose user channel subscription is live.
  async function client(user, target = url) {
    const socket = await connect(target, { auth: { token: token(user) }, transports: ["websocket"] });
    sockets.push(socket);
    await sleep(250);  // the gateway subscribes the user's bus channel asynchronously
    return socket;
  }

  async function rest(user, method, route, body) {
    const headers = { "content-type": "application/json" };
    if (user) headers.authorization = `Bearer ${token(user)}`;
    const res = await fetch(`${url}/api/v1/chat${route}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: await res.json() };
  }

  const emit = (socket, event, payload) => socket.timeout(5_000).emitWithAck(event, payload);

  let conversationId;
  let alice, bob, bobPhone;
  let clientSeq = 0;
  const send = (socket, content) =>
    emit(socket, "message:send", { conversationId, clientMessageId: `cm-${++clientSeq}`, content });

  test("two users chat: a sent message reaches every device of the other user", async () => {
    alice = await client("alice");
    bob = await client("bob");
    bobPhone = await client("bob");

    const created = await rest("alice", "POST", "/conversations", { participantId: "bob" });
    assert.equal(created.status, 201);
    assert.equal(created.body.created, true);
    conversationId = created.body.conversation.id;
    assert.equal(created.body.conversation.participant.id, "bob");
    // Find-or-create from the other side: the same conversation, not created again.
    const again = await rest("bob", "POST", "/conversations", { participantId: "alice" });
    assert.equal(again.status, 200);
    assert.equal(again.body.conversation.id, conversationId);

    const onLaptop = once(bob, "message:new");
    const onPhone = once(bobPhone, "message:new");
    const ack = await send(alice, "hello bob");
    assert.equal(ack.ok, true, JSON.stringify(ack));
    assert.equal(ack.data.content, "hello bob");
    assert.equal(ack.data.senderId, "alice");
    assert.equal(ack.data.created, true);
    const [[laptopMsg], [phoneMsg]] = await Promise.all([onLaptop, onPhone]);
    for (const m of [laptopMsg, phoneMsg]) {
      assert.equal(m.id, ack.data.id);
      assert.equal(m.content, "hello bob");
      assert.equal(m.conversationId, conversationId);
    }
    // A retried send (same clientMessageId) returns the stored message and delivers nothing new.
    let extra = 0;
    const count = () => extra++;
    bob.on("message:new", count);
    const retry = await emit(alice, "message:send", { conversationId, clientMessageId: `cm-${clientSeq}`, content: "hello bob" });
    assert.equal(retry.ok, true);
    assert.equal(retry.data.id, ack.data.id);
    assert.equal(retry.data.created, false);
    await sleep(300);
    bob.off("message:new", count);
    assert.equal(extra, 0);

    const join = await emit(bob, "join:conversation", { conversationId });
    assert.equal(join.ok, true, JSON.stringify(join));
    assert.equal(join.data.room, `conversation:${conversationId}`);
  });

  test("typing start and stop reach the other participant", async () => {
    const started = once(bob, "typing:update");
    assert.equal((await emit(alice, "typing:start", { conversationId })).ok, true);
    const [start] = await started;
    assert.deepEqual({ ...start, expiresInMs: undefined }, { conversationId, userId: "alice", isTyping: true, expiresInMs: undefined });
    const stopped = once(bob, "typing:update");
    assert.equal((await emit(alice, "typing:stop", { conversationId })).ok, true);
    const [stop] = await stopped;
    assert.equal(stop.isTyping, false);
  });

  test("unread counts and read receipts", async () => {
    await send(alice, "second");
    const third = await send(alice, "third");
    let unread = await rest("bob", "GET", "/unread-count");
    assert.equal(unread.status, 200);
    assert.equal(unread.body.total, 3);
    assert.equal(unread.body.perConversation[conversationId], 3);

    const list = await rest("bob", "GET", "/conversations");
    assert.equal(list.status, 200);
    const conv = list.body.conversations.find((c) => c.id === conversationId);
    assert.equal(conv.unreadCount, 3);
    assert.equal(conv.lastMessage.content, "third");
    assert.equal(conv.lastMessage.isRead, false);
    assert.equal(conv.participant.id, "alice");
    assert.equal(conv.participant.username, "alice-name");  // upserted from the JWT on connect
    assert.equal(conv.participant.isOnline, true);

    const receipt = once(alice, "message:read");
    const onPhone = once(bobPhone, "message:read");
    const read = await emit(bob, "message:read", { conversationId, seq: third.data.seq });
    assert.equal(read.ok, true, JSON.stringify(read));
    assert.equal(read.data.unreadCount, 0);
    const [r] = await receipt;
    assert.deepEqual(r, { conversationId, userId: "bob", lastReadSeq: third.data.seq });
    // bob's other device learns the position and its badge count.
    const [p] = await onPhone;
    assert.deepEqual(p, { conversationId, userId: "bob", lastReadSeq: third.data.seq, unreadCount: 0 });
    unread = await rest("bob", "GET", "/unread-count");
    assert.equal(unread.body.total, 0);
    // Moving backwards is a no-op.
    const back = await emit(bob, "message:read", { conversationId, seq: 1 });
    assert.equal(back.data.moved, false);
    assert.equal(back.data.lastReadSeq, third.data.seq);
  });

  test("edit and delete reach the other participant; deleted content is gone from history", async () => {
    const sent = await send(alice, "typo hre");
    const updated = once(bob, "message:updated");
    const edit = await emit(alice, "message:edit", { messageId: sent.data.id, content: "typo here" });
    assert.equal(edit.ok, true, JSON.stringify(edit));
    const [u] = await updated;
    assert.equal(u.content, "typo here");
    assert.equal(u.isEdited, true);

    const notMine = await emit(bob, "message:edit", { messageId: sent.data.id, content: "hijack" });
    assert.deepEqual(notMine.error.code, "forbidden");

    const deleted = once(bobPhone, "message:deleted");
    const del = await rest("alice", "DELETE", `/messages/${sent.data.id}`);
    assert.equal(del.status, 200);
    const [d] = await deleted;
    assert.equal(d.id, sent.data.id);
    assert.equal(d.isDeleted, true);
    assert.equal(d.content, "");

    const history = await rest("bob", "GET", `/conversations/${conversationId}/messages?limit=100`);
    assert.equal(history.status, 200);
    const inHistory = history.body.messages.find((m) => m.id === sent.data.id);
    assert.equal(inHistory.isDeleted, true);
    assert.equal(inHistory.content, "");
    assert.equal(JSON.stringify(history.body).includes("typo"), false);
  });

  test("outsiders and bad input are refused with the right codes", async () => {
    const mallory = await client("mallory");
    const forbidden = await rest("mallory", "GET", `/conversations/${conversationId}/messages`);
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.body.error.code, "forbidden");
    assert.equal((await rest("mallory", "GET", `/conversations/${conversationId}`)).status, 403);
    assert.equal((await rest("alice", "GET", `/conversations/999999`)).status, 404);
    assert.equal((await rest(null, "GET", "/conversations")).status, 401);
    const invalid = await rest("alice", "POST", `/conversations/${conversationId}/messages`, { clientMessageId: "x", content: "" });
    assert.equal(invalid.status, 422);
    assert.equal(invalid.body.error.code, "invalid_argument");

    const join = await emit(mallory, "join:conversation", { conversationId });
    assert.deepEqual(join.error.code, "forbidden");
    const sendAck = await emit(mallory, "message:send", { conversationId, clientMessageId: "m", content: "hi" });
    assert.equal(sendAck.error.code, "forbidden");
    const malformed = await emit(alice, "message:send", { content: "no conversation" });
    assert.equal(malformed.error.code, "invalid_argument");
  });

  test("groups over REST: admins manage members, members leave, mute", async () => {
    const created = await rest("alice", "POST", "/conversations", { type: "group", title: "team", participantIds: ["bob"] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.conversation.id;
    assert.equal(created.body.conversation.type, "group");
    const byMember = await rest("bob", "POST", `/conversations/${id}/participants`, { participantIds: ["carol"] });
    assert.equal(byMember.status, 403);
    const added = await rest("alice", "POST", `/conversations/${id}/participants`, { participantIds: ["carol"] });
    assert.equal(added.status, 200);
    assert.deepEqual(added.body.conversation.participants.map((p) => p.user.id).sort(), ["alice", "bob", "carol"]);
    const left = await rest("carol", "DELETE", `/conversations/${id}/participants/carol`);
    assert.deepEqual(left, { status: 200, body: { left: true } });
    assert.equal((await rest("carol", "GET", `/conversations/${id}`)).status, 403);
    const muted = await rest("bob", "POST", `/conversations/${id}/mute`);
    assert.equal(muted.status, 200);
    assert.equal(muted.body.conversation.isMuted, true);
    const untitled = await rest("alice", "POST", "/conversations", { type: "group", title: "", participantIds: ["bob"] });
    assert.equal(untitled.status, 422);
  });

  test("blocking: no new messages, history stays readable", async () => {
    const blocked = await rest("bob", "POST", "/blocks", { userId: "alice" });
    assert.equal(blocked.status, 200);
    const refused = await send(alice, "still there?");
    assert.equal(refused.ok, false);
    assert.equal(refused.error.code, "forbidden");
    const history = await rest("alice", "GET", `/conversations/${conversationId}/messages`);
    assert.equal(history.status, 200);
    assert.ok(history.body.messages.length > 0);
    const list = await rest("bob", "GET", "/blocks");
    assert.deepEqual(list.body.users.map((u) => u.id), ["alice"]);
    assert.equal((await rest("bob", "DELETE", "/blocks/alice")).status, 200);
    assert.equal((await send(alice, "back again")).ok, true);
  });

  // ---- conversation rooms and connection state recovery -------------------------------------------

  // A socket on gateway A (no automatic reconnection) in room conversation:{id}, holding a pid and
  // the offset of one room event; its room events are collected as [n, offset].
  async function inConversationRoom(user, id, target = url) {
    const socket = await client(user, target);
    const join = await emit(socket, "join:conversation", { conversationId: id });
    assert.equal(join.ok, true, JSON.stringify(join));
    return socket;
  }
  const roomEvents = (socket) => {
    const got = [];
    socket.on("room:evt", (payload, offset) => got.push([payload.n, offset]));
    return got;
  };
  const publishToRoom = async (id, n) =>
    (await grpcA.call("Publish", { room: `conversation:${id}`, event: "room:evt", payload_json: JSON.stringify({ n }) }))
      .offsets[0];
  // Reconnects with the dropped socket's pid and last offset (what socket.io-client's manager
  // sends) to `target`, as a fresh client; resolves once connected.
  async function recoverOn(target, user, dropped, { beforeConnect } = {}) {
    const socket = io(target, { forceNew: true, reconnection: false, transports: ["websocket"], autoConnect: false,
                                auth: { token: token(user) } });
    sockets.push(socket);
    socket._pid = dropped.pid;
    socket._lastOffset = dropped.offset;
    if (beforeConnect) beforeConnect(socket);
    const connected = once(socket, "connect");
    socket.connect();
    await connected;
    return socket;
  }
  const drop = (socket) => {
    const saved = { pid: socket._pid, offset: socket._lastOffset, id: socket.id };
    assert.ok(saved.pid && saved.offset, "the client holds a pid and an offset");
    socket.io.engine.close(); // a network drop, not a disconnect: the session is saved for recovery
    return saved;
  };

  test("a member removed or leaving is taken out of the conversation room on every instance, at once", async () => {
    const created = await rest("rina", "POST", "/conversations", { type: "group", title: "desk", participantIds: ["vic", "walt"] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.conversation.id;
    const vic = await inConversationRoom("vic", id);
    const waltA = await inConversationRoom("walt", id);
    const waltB = await inConversationRoom("walt", id, urlB); // walt's second device, on the other instance
    const [vicGot, waltAGot, waltBGot] = [vic, waltA, waltB].map(roomEvents);
    await sleep(300); // B's subscription of the room's bus channel becomes live
    await publishToRoom(id, 0);
    await sleep(300);
    for (const got of [vicGot, waltAGot, waltBGot]) assert.deepEqual(got.map(([n]) => n), [0]);

    const leftA = once(waltA, "conversation:left");
    const leftB = once(waltB, "conversation:left");
    assert.equal((await rest("rina", "DELETE", `/conversations/${id}/participants/walt`)).status, 200);
    for (const [left] of await Promise.all([leftA, leftB])) {
      assert.equal(left.conversationId, id);
      assert.equal(left.reason, "removed");
    }
    await publishToRoom(id, 1);
    await sleep(300);
    assert.deepEqual(vicGot.map(([n]) => n), [0, 1]);
    assert.deepEqual(waltAGot.map(([n]) => n), [0]);
    assert.deepEqual(waltBGot.map(([n]) => n), [0]);
    assert.equal((await emit(waltA, "join:conversation", { conversationId: id })).error.code, "forbidden");

    // Leaving by one's own choice does the same, with reason "left".
    const vicLeft = once(vic, "conversation:left");
    assert.equal((await rest("vic", "DELETE", `/conversations/${id}/participants/vic`)).status, 200);
    assert.equal((await vicLeft)[0].reason, "left");
    await publishToRoom(id, 2);
    await sleep(300);
    assert.deepEqual(vicGot.map(([n]) => n), [0, 1]);
  });

  test("recovery on another instance re-checks conversation rooms: members keep them, removed users leave", async () => {
    const created = await rest("rina", "POST", "/conversations", { type: "group", title: "ops", participantIds: ["sam", "tess"] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.conversation.id;
    const sam = await inConversationRoom("sam", id);
    const tess = await inConversationRoom("tess", id);
    const first = [once(sam, "room:evt"), once(tess, "room:evt")];
    await publishToRoom(id, 0);
    await Promise.all(first);
    const samSaved = drop(sam);
    const tessSaved = drop(tess);
    await sleep(300);

    const gapBefore = await publishToRoom(id, 1); // while both are away, both still members
    const removed = await rest("rina", "DELETE", `/conversations/${id}/participants/tess`);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    const gapAfter = await publishToRoom(id, 2); // while both are away, tess no longer a member

    let samGot, tessGot, tessLeft;
    const sam2 = await recoverOn(urlB, "sam", samSaved, { beforeConnect: (s) => (samGot = roomEvents(s)) });
    const tess2 = await recoverOn(urlB, "tess", tessSaved, {
      beforeConnect: (s) => {
        tessGot = roomEvents(s);
        tessLeft = once(s, "conversation:left");
      },
    });
    assert.equal(sam2.recovered, true);
    assert.equal(sam2.id, samSaved.id);
    assert.equal(tess2.recovered, true);
    // tess is no longer a participant: B takes her out of the room and says why.
    const [left] = await tessLeft;
    assert.deepEqual({ ...left, message: undefined }, { conversationId: id, reason: "forbidden", message: undefined });
    await sleep(300); // B's subscription of the room's bus channel becomes live

    const live = await publishToRoom(id, 3); // after the reconnect: only through B's bus subscription
    await sleep(300);
    // sam: the gap events (replayed) and the live one, each exactly once, with their offsets.
    assert.deepEqual(samGot, [[1, gapBefore], [2, gapAfter], [3, live]]);
    // tess: participation is checked before anything is replayed, so nothing of the room reaches
    // her, not even the gap event from before her removal (the room's gap is all or nothing).
    assert.deepEqual(tessGot, []);
    assert.equal((await emit(tess2, "join:conversation", { conversationId: id })).error.code, "forbidden");

    // The room stays with sam through later events, and leave:conversation still releases it.
    assert.equal((await emit(sam2, "leave:conversation", { conversationId: id })).ok, true);
    await publishToRoom(id, 4);
    await sleep(300);
    assert.deepEqual(samGot.map(([n]) => n), [1, 2, 3]);
  });

  test("recovery while chat is down: the conversation room is left with reason unavailable", async () => {
    const created = await rest("rina", "POST", "/conversations", { type: "group", title: "night", participantIds: ["uma"] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.conversation.id;
    const uma = await inConversationRoom("uma", id);
    const first = once(uma, "room:evt");
    await publishToRoom(id, 0);
    await first;
    const saved = drop(uma);
    await sleep(300);
    const code = await chat.stop();
    chat = null;
    assert.equal(code, 0, "chat exits cleanly on SIGTERM");
    let got, left;
    const uma2 = await recoverOn(urlB, "uma", saved, {
      beforeConnect: (s) => {
        got = roomEvents(s);
        left = once(s, "conversation:left", 15_000);
      },
    });
    assert.equal(uma2.recovered, true);
    const [event] = await left;
    assert.equal(event.conversationId, id);
    assert.equal(event.reason, "unavailable");
    await publishToRoom(id, 1);
    await sleep(300);
    assert.deepEqual(got, []); // out of the room: no room event, and none replayed (there was no gap)
  });
});
