// End-to-end tests of notifications: sb-notification + sb-gateway (+ sb-chat for offline
// new_message notifications) with a private Postgres and redis-server, driven by @grpc/grpc-js
// (internal callers), the real socket.io-client (devices) and fetch (REST). SB_BUILD_DIR selects
// the build (default /work/main/build/dev).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import grpc from "@grpc/grpc-js";
import {
  connect, freePort, grpcClient, mintToken, once, sleep, startPostgres, startProcess, startRedis,
} from "./helpers.mjs";

const buildDir = process.env.SB_BUILD_DIR || "/work/main/build/dev";
const notificationBinary = path.join(buildDir, "services/notification/sb-notification");
const chatBinary = path.join(buildDir, "services/chat/sb-chat");
const gatewayBinary = path.join(buildDir, "services/gateway/sb-gateway");
const SECRET = "e2e-notification-secret-0123456789-0123456789";

const httpReady = (url) => async () => (await fetch(url)).status === 200;

describe("notifications through the gateway", () => {
  let pg, redis, notification, chat, gateway, url, rpc;
  const sockets = [];

  before(async () => {
    for (const bin of [notificationBinary, chatBinary, gatewayBinary]) {
      if (!existsSync(bin)) throw new Error(`${bin} not found (set SB_BUILD_DIR)`);
    }
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    const [nGrpc, nHttp, cGrpc, cHttp, gHttp, gGrpc] = await Promise.all(Array.from({ length: 6 }, freePort));
    const common = { SB_POSTGRES_URL: pg.url, SB_REDIS_URL: redis.url, SB_LOG_LEVEL: "warn" };
    notification = await startProcess("sb-notification", notificationBinary, [], {
      env: { ...common, SB_GRPC_PORT: String(nGrpc), SB_HTTP_PORT: String(nHttp) },
      ready: httpReady(`http://127.0.0.1:${nHttp}/readyz`),
    });
    chat = await startProcess("sb-chat", chatBinary, [], {
      env: { ...common, SB_GRPC_PORT: String(cGrpc), SB_HTTP_PORT: String(cHttp), SB_NOTIFICATION_ADDR: `127.0.0.1:${nGrpc}` },
      ready: httpReady(`http://127.0.0.1:${cHttp}/readyz`),
    });
    gateway = await startProcess("sb-gateway", gatewayBinary, [], {
      env: {
        SB_HTTP_PORT: String(gHttp),
        SB_GRPC_PORT: String(gGrpc),
        SB_REDIS_URL: redis.url,
        SB_JWT_SECRET: SECRET,
        SB_CHAT_ADDR: `127.0.0.1:${cGrpc}`,
        SB_NOTIFICATION_ADDR: `127.0.0.1:${nGrpc}`,
        SB_LOG_LEVEL: "warn",
      },
      ready: httpReady(`http://127.0.0.1:${gHttp}/readyz`),
    });
    url = `http://127.0.0.1:${gHttp}`;
    rpc = grpcClient("switchboard/notification/v1/notification.proto", "switchboard.notification.v1.NotificationService",
                     `127.0.0.1:${nGrpc}`, { keepCase: false, enums: String, longs: String });
  });

  after(async () => {
    for (const s of sockets) s.disconnect();
    rpc?.close();
    const codes = {};
    if (gateway) codes.gateway = await gateway.stop();
    if (chat) codes.chat = await chat.stop();
    if (notification) codes.notification = await notification.stop();
    if (redis) await redis.stop();
    if (pg) await pg.stop();
    assert.deepEqual(codes, { gateway: 0, chat: 0, notification: 0 }, "services exit cleanly on SIGTERM");
  });

  const token = (user) => mintToken(SECRET, { sub: user, username: `${user}-name` });

  async function device(user) {
    const socket = await connect(url, { auth: { token: token(user) }, transports: ["websocket"] });
    sockets.push(socket);
    await sleep(250); // the gateway subscribes the user's bus channel asynchronously
    return socket;
  }

  async function rest(user, method, route, body) {
    const headers = { "content-type": "application/json" };
    if (user) headers.authorization = `Bearer ${token(user)}`;
    const res = await fetch(`${url}/api/v1/notifications${route}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: await res.json() };
  }

  test("a gRPC Notify from an internal caller reaches every device of the recipient", async () => {
    const laptop = await device("bob");
    const phone = await device("bob");
    const events = [laptop, phone].flatMap((s) => [once(s, "notification:new"), once(s, "notification:unread")]);
    const res = await rpc.call("notify", {
      recipientId: "bob",
      type: "post_like",
      actor: { id: "ana", name: "Ana", avatarUrl: "https://img.example/ana.png" },
      entityType: "post",
      entityId: "p1",
      data: { preview: "my first post" },
      dedupeKey: "like:p1:ana",
      groupKey: "post_like:p1",
    });
    assert.equal(res.outcome, "OUTCOME_CREATED");
    assert.equal(res.unreadCount, "1");
    const [[n1], [u1], [n2], [u2]] = await Promise.all(events);
    for (const n of [n1, n2]) {
      assert.equal(n.id, res.notification.id);
      assert.equal(n.title, "Ana liked your post");
      assert.equal(n.body, "my first post");
      assert.equal(n.actor.name, "Ana");
      assert.equal(n.data.deepLink, "/posts/p1");
      assert.equal(n.data.senderId, "ana");
      assert.equal(n.updated, false);
    }
    assert.deepEqual(u1, { count: 1 });
    assert.deepEqual(u2, { count: 1 });

    // A second like collapses into the same notification: notification:new with updated: true.
    const collapsed = once(phone, "notification:new");
    const again = await rpc.call("notifyPostLike", { recipientId: "bob", liker: { id: "cy", name: "Cy" }, postId: "p1" });
    assert.equal(again.outcome, "OUTCOME_COLLAPSED");
    const [[n3]] = await Promise.all([collapsed]);
    assert.equal(n3.id, res.notification.id);
    assert.equal(n3.updated, true);
    assert.equal(n3.title, "Cy and Ana liked your post");
    // The same dedupe key again: nothing new.
    const dup = await rpc.call("notify", { recipientId: "bob", type: "post_like", actor: { id: "ana" }, dedupeKey: "like:p1:ana" });
    assert.equal(dup.outcome, "OUTCOME_DUPLICATE");
    // Unknown types and bad input are refused.
    await assert.rejects(rpc.call("notify", { recipientId: "bob", type: "nope" }), (e) => e.code === grpc.status.NOT_FOUND);
    await assert.rejects(rpc.call("notify", { recipientId: "", type: "post_like" }), (e) => e.code === grpc.status.INVALID_ARGUMENT);
  });

  test("REST: list, unread count, read, read-all, preferences; counts change on every device", async () => {
    const laptop = await device("dana");
    const phone = await device("dana");
    for (let i = 0; i < 3; i++) {
      await rpc.call("notifyNewFollower", { recipientId: "dana", follower: { id: `f${i}`, name: `Follower ${i}` } });
    }
    await rpc.call("notify", { recipientId: "dana", type: "account_update", data: { title: "Password changed", body: "Just now" } });

    const count = await rest("dana", "GET", "/unread-count");
    assert.equal(count.status, 200);
    assert.equal(count.body.count, 2); // followers collapse into one, plus the account update

    const list = await rest("dana", "GET", "?limit=1");
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.equal(list.body.notifications.length, 1);
    assert.equal(list.body.unreadCount, "2");
    assert.equal(list.body.notifications[0].title, "Password changed");
    assert.ok(list.body.nextCursor);
    const page2 = await rest("dana", "GET", `?limit=1&cursor=${encodeURIComponent(list.body.nextCursor)}`);
    assert.equal(page2.body.notifications[0].title, "Follower 2 and 2 others started following you");
    assert.equal(page2.body.notifications[0].count, 3);
    assert.equal(page2.body.notifications[0].actors.length, 3);

    // Reading on the laptop updates the count on the phone.
    const onPhone = once(phone, "notification:unread");
    const read = await rest("dana", "POST", `/${list.body.notifications[0].id}/read`);
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, { changed: true, unreadCount: "1" });
    assert.deepEqual((await onPhone)[0], { count: 1 });
    const unreadOnly = await rest("dana", "GET", "?unread=true");
    assert.equal(unreadOnly.body.notifications.length, 1);
    // Another user's notification: 404, and nothing changes.
    assert.equal((await rest("bob", "POST", `/${list.body.notifications[0].id}/read`)).status, 404);
    assert.equal((await rest("dana", "POST", "/abc/read")).status, 400);

    const onLaptop = once(laptop, "notification:unread");
    const all = await rest("dana", "POST", "/read-all");
    assert.deepEqual(all.body, { marked: "1", unreadCount: "0" });
    assert.deepEqual((await onLaptop)[0], { count: 0 });

    const prefs = await rest("dana", "GET", "/preferences");
    assert.equal(prefs.status, 200);
    assert.equal(prefs.body.pushEnabled, true);
    assert.equal(prefs.body.types.story_view, false);
    assert.equal(prefs.body.timeZone, "UTC");
    const patched = await rest("dana", "PATCH", "/preferences", {
      pushEnabled: false,
      types: { new_follower: false },
      quietHours: { enabled: true, start: "22:00", end: "07:00" },
      timeZone: "Europe/Paris",
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.pushEnabled, false);
    assert.equal(patched.body.types.new_follower, false);
    assert.deepEqual(patched.body.quietHours, { enabled: true, start: "22:00", end: "07:00" });
    assert.equal(patched.body.timeZone, "Europe/Paris");
    // The toggle holds: a new follower is not stored.
    const off = await rpc.call("notifyNewFollower", { recipientId: "dana", follower: { id: "f9" } });
    assert.equal(off.outcome, "OUTCOME_DISABLED");
    // Bad preference input.
    assert.equal((await rest("dana", "PATCH", "/preferences", { timeZone: "Mars/Olympus" })).status, 422);
    assert.equal((await rest("dana", "PATCH", "/preferences", { quietHours: { enabled: true, start: "25:00", end: "07:00" } })).status, 422);
    assert.equal((await rest("dana", "PATCH", "/preferences", { noSuchField: 1 })).status, 422);
    // Authentication and routing.
    assert.equal((await rest(null, "GET", "")).status, 401);
    assert.equal((await rest("dana", "DELETE", "/read-all")).status, 405);
    assert.equal((await rest("dana", "GET", "/nope")).status, 404);
  });

  test("chat hands an offline recipient's message to the notification service", async () => {
    const chatRest = async (user, method, route, body) => {
      const res = await fetch(`${url}/api/v1/chat${route}`, {
        method,
        headers: { "content-type": "application/json", authorization: `Bearer ${token(user)}` },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, body: await res.json() };
    };
    const created = await chatRest("erin", "POST", "/conversations", { participantId: "fred" });
    assert.equal(created.status, 201);
    const conversationId = created.body.conversation.id;
    // fred has no socket: offline.
    const sent = await chatRest("erin", "POST", `/conversations/${conversationId}/messages`, { clientMessageId: "m1", content: "are you there?" });
    assert.equal(sent.status, 201);
    let list;
    for (let i = 0; i < 40; i++) {
      list = await rest("fred", "GET", "");
      if (list.body.notifications?.length) break;
      await sleep(100);
    }
    assert.equal(list.body.notifications.length, 1);
    const n = list.body.notifications[0];
    assert.equal(n.type, "new_message");
    assert.equal(n.body, "are you there?");
    assert.equal(n.data.conversationId, conversationId);
    assert.equal(n.data.messageId, sent.body.message.id);
    assert.equal(n.deepLink, `/chat/${conversationId}`);
    // A retried send (same clientMessageId) does not notify again.
    await chatRest("erin", "POST", `/conversations/${conversationId}/messages`, { clientMessageId: "m1", content: "are you there?" });
    await sleep(300);
    assert.equal((await rest("fred", "GET", "/unread-count")).body.count, 1);
  });
});
