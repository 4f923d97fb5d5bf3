// Limits and bad input: maxPayload, malformed packets, handshake errors, ping timeout, shutdown.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { startServer, connect, once, sleep, ackAll } from "./helpers.mjs";

let server;
before(async () => {
  server = await startServer(["--ping-interval", "300", "--ping-timeout", "200", "--max-payload", "1000"]);
});
after(async () => {
  await server?.stop();
});

// A raw Engine.IO websocket: resolves once the OPEN packet arrived, with a queue of later messages.
async function rawSocket(port) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
  const messages = [];
  const waiters = [];
  ws.on("message", (data, isBinary) => {
    const msg = isBinary ? data : data.toString();
    const w = waiters.shift();
    if (w) w(msg);
    else messages.push(msg);
  });
  const next = (ms = 3000) =>
    messages.length
      ? Promise.resolve(messages.shift())
      : new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("no message")), ms);
          waiters.push((m) => {
            clearTimeout(timer);
            resolve(m);
          });
        });
  const closed = new Promise((resolve) => ws.on("close", (code) => resolve(code)));
  const open = await next();
  assert.match(open, /^0\{"sid":"[A-Za-z0-9_-]{20}","upgrades":\[\],"pingInterval":300,"pingTimeout":200,"maxPayload":1000\}$/);
  return { ws, next, closed };
}

test("a websocket message over maxPayload closes the connection", async () => {
  const socket = await connect(server.url, { transports: ["websocket"] });
  const disconnected = once(socket, "disconnect");
  socket.emit("message", "x".repeat(2000));
  const [reason] = await disconnected;
  assert.match(reason, /transport (close|error)/);
  // Within the limit still works on a fresh connection.
  const again = await connect(server.url, { transports: ["websocket"] });
  assert.deepEqual(await ackAll(again, "message-with-ack", "x".repeat(500)), ["x".repeat(500)]);
  again.disconnect();
});

test("a polling POST over maxPayload gets 413", async () => {
  const open = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`);
  const sid = JSON.parse((await open.text()).slice(1)).sid;
  const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
    method: "POST",
    body: "4" + "y".repeat(2000),
  });
  assert.equal(res.status, 413);
});

test("a malformed packet closes only that connection", async () => {
  const bystander = await connect(server.url, { transports: ["websocket"] });
  const raw = await rawSocket(server.port);
  raw.ws.send("40");
  assert.match(await raw.next(), /^40\{"sid":"[A-Za-z0-9_-]{20}"\}$/);
  // The server reads the client's close reply and shuts the socket at once (not after its 5 s
  // close-handshake timeout).
  let started = Date.now();
  raw.ws.send('42["unterminated');
  await raw.closed;
  assert.ok(Date.now() - started < 2000, `close took ${Date.now() - started} ms`);
  // Another kind: a binary attachment nobody announced.
  const raw2 = await rawSocket(server.port);
  raw2.ws.send("40");
  await raw2.next();
  started = Date.now();
  raw2.ws.send(Buffer.from([1, 2, 3]));
  await raw2.closed;
  assert.ok(Date.now() - started < 2000, `close took ${Date.now() - started} ms`);
  assert.ok(server.alive());
  assert.deepEqual(await ackAll(bystander, "message-with-ack", "still here"), ["still here"]);
  bystander.disconnect();
});

test("a client that stops answering pings is closed after pingInterval + pingTimeout", async () => {
  const raw = await rawSocket(server.port);
  raw.ws.send("40");
  await raw.next(); // CONNECT reply
  assert.equal(await raw.next(), '42["auth",{}]');
  assert.equal(await raw.next(), "2"); // ping after ~300 ms; no pong sent
  const started = Date.now();
  await raw.closed;
  const waited = Date.now() - started;
  assert.ok(waited >= 150 && waited < 2000, `closed after ${waited} ms`);
});

test("handshake errors answer 400 with the reference codes", async () => {
  const cases = [
    ["EIO=3&transport=polling", 5, "Unsupported protocol version"],
    ["EIO=4&transport=carrier-pigeon", 0, "Transport unknown"],
    ["EIO=4&transport=polling&sid=doesnotexist", 1, "Session ID unknown"],
  ];
  for (const [query, code, message] of cases) {
    const res = await fetch(`${server.url}/socket.io/?${query}`);
    assert.equal(res.status, 400, query);
    assert.deepEqual(await res.json(), { code, message });
  }
  const post = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, { method: "POST", body: "x" });
  assert.equal(post.status, 400);
  assert.deepEqual(await post.json(), { code: 2, message: "Bad handshake method" });
});

test("CORS preflight and headers", async () => {
  const pre = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, {
    method: "OPTIONS",
    headers: { Origin: "http://example.test", "Access-Control-Request-Method": "GET" },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), "http://example.test");
  assert.equal(pre.headers.get("access-control-allow-credentials"), "true");
  const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: "http://example.test" } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), "http://example.test");
});

test("non-Socket.IO paths go to the application's fallback handler", async () => {
  const ok = await fetch(`${server.url}/healthz`);
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).status, "ok");
  const missing = await fetch(`${server.url}/api/v1/nothing`);
  assert.equal(missing.status, 404);
});

test("graceful shutdown disconnects clients with a reconnectable reason and exits", async () => {
  const own = await startServer([]);
  const ws = await connect(own.url, { transports: ["websocket"] });
  const polling = await connect(own.url, { transports: ["polling"] });
  const d1 = once(ws, "disconnect");
  const d2 = once(polling, "disconnect");
  const exited = new Promise((resolve) => own.child.once("exit", (code) => resolve(code)));
  own.child.kill("SIGTERM");
  const [[r1], [r2]] = await Promise.all([d1, d2]);
  assert.equal(r1, "transport close");
  assert.match(r2, /transport (close|error)/);
  assert.equal(await exited, 0);
  await own.stop();
});
