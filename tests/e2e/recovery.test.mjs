// Connection state recovery (socket.io 4.6+ connectionStateRecovery) on one server instance.
import { test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startServer, connect, once, ackAll } from "./helpers.mjs";

// Connects a client that reconnects after ~300 ms, joins `room`, and waits until it holds an offset
// (the "auth" event carries one when recovery is on).
async function joinedClient(url, room) {
  const socket = io(url, {
    forceNew: true,
    transports: ["websocket"],
    reconnectionDelay: 300,
    reconnectionDelayMax: 300,
    randomizationFactor: 0,
    autoConnect: false,
  });
  const auth = once(socket, "auth");
  const connected = once(socket, "connect");
  socket.connect();
  await connected;
  await auth;
  await ackAll(socket, "join", room);
  return socket;
}

async function dropAndBroadcast(url, socket, room) {
  const firstId = socket.id;
  const received = [];
  socket.on("room-event", (...args) => received.push(args));
  const disconnected = once(socket, "disconnect");
  const reconnected = once(socket, "connect", 5000);
  socket.io.engine.close(); // like a network drop: the manager reconnects on its own
  assert.equal((await disconnected)[0], "forced close"); // client-side reason; the server sees "transport close"
  const sender = await connect(url, { transports: ["websocket"] });
  await ackAll(sender, "broadcast-to-room", room, "missed-1");
  await ackAll(sender, "broadcast-to-room", room, "missed-2");
  await ackAll(sender, "broadcast-to-room", "other-room", "not-for-us");
  sender.disconnect();
  await reconnected;
  await new Promise((r) => setTimeout(r, 200));
  return { firstId, received };
}

test("recovery on: same id, rooms kept, missed room events replayed", async () => {
  const server = await startServer(["--recovery", "on"]);
  const socket = await joinedClient(server.url, "r1");
  try {
    assert.equal(socket.recovered, false);
    const { firstId, received } = await dropAndBroadcast(server.url, socket, "r1");
    assert.equal(socket.recovered, true);
    assert.equal(socket.id, firstId);
    // Each replayed event carries its offset as the last argument.
    assert.deepEqual(received.map((args) => args[0]), ["missed-1", "missed-2"]);
    for (const args of received) assert.equal(typeof args[1], "string");
    assert.notEqual(received[0][1], received[1][1]);
    // The room membership survived: a new broadcast still reaches the socket.
    const live = once(socket, "room-event");
    const sender = await connect(server.url, { transports: ["websocket"] });
    await ackAll(sender, "broadcast-to-room", "r1", "live");
    assert.equal((await live)[0], "live");
    sender.disconnect();
  } finally {
    socket.disconnect();
    await server.stop();
  }
});

test("recovery off: a new session, nothing replayed", async () => {
  const server = await startServer([]);
  const socket = await joinedClient(server.url, "r1");
  try {
    const { firstId, received } = await dropAndBroadcast(server.url, socket, "r1");
    assert.ok(!socket.recovered); // undefined: the server sent no pid, as the reference server without recovery
    assert.notEqual(socket.id, firstId);
    assert.deepEqual(received, []);
  } finally {
    socket.disconnect();
    await server.stop();
  }
});

test("recovery on: an unknown pid/offset is not recovered", async () => {
  const server = await startServer(["--recovery", "on"]);
  const socket = io(server.url, { forceNew: true, reconnection: false, transports: ["websocket"], autoConnect: false });
  try {
    socket._pid = "unknown-pid";
    socket._lastOffset = "unknown-offset";
    const connected = once(socket, "connect");
    socket.connect();
    await connected;
    assert.equal(socket.recovered, false);
    assert.deepEqual(await ackAll(socket, "message-with-ack", 1), [1]);
  } finally {
    socket.disconnect();
    await server.stop();
  }
});
