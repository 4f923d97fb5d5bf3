// Reference chat server for tools/bench/chat: what a chat backend on the usual Node stack does for
// one message — npm socket.io 4.8, jsonwebtoken, pg — measured against sb-gateway + sb-chat in the
// same run, driven by the same load generator (sb-loadgen chat).
//
//   node chat.mjs --postgres postgresql://postgres@127.0.0.1:PORT/postgres --jwt-secret S
//                 [--port 0] [--host 127.0.0.1] [--pool 8]
//
// Prints "listening on PORT" once it accepts connections. It creates its own schema `ref_chat`
// (dropped and recreated at start) in the given database.
//
//   connect (auth.token, HS256 JWT)  -> jwt.verify; the socket joins room "user:<sub>"
//   POST /api/v1/chat/conversations {participantId} (Authorization: Bearer)
//                                    -> find-or-create the direct conversation of the pair:
//                                       201/200 {created, conversation: {id}}
//   message:send {conversationId, clientMessageId, content} (ack)
//                                    -> one transaction: bump the conversation's sequence (only for
//                                       a participant), INSERT the message (idempotent on
//                                       clientMessageId); emit message:new to both participants'
//                                       rooms; ack {ok:true, data: stored row} or {ok:false, error}
//
// This is deliberately the plain version such a service starts as: no unread counters, blocks,
// moderation, offline notifications or cross-instance bus (sb-chat does all of these per message).
import { createServer } from "node:http";
import jwt from "jsonwebtoken";
import pg from "pg";
import { Server } from "socket.io";

function flag(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number(flag("--port", "0"));
const host = flag("--host", "127.0.0.1");
const secret = flag("--jwt-secret", process.env.SB_JWT_SECRET || "");
const postgresUrl = flag("--postgres", "");
const poolSize = Number(flag("--pool", "8"));
if (!secret || !postgresUrl) {
  console.error("usage: node chat.mjs --postgres URL --jwt-secret S [--port N] [--host H] [--pool N]");
  process.exit(2);
}

const pool = new pg.Pool({ connectionString: postgresUrl, max: poolSize });

await pool.query(`
  DROP SCHEMA IF EXISTS ref_chat CASCADE;
  CREATE SCHEMA ref_chat;
  CREATE TABLE ref_chat.conversations (
    id         bigserial PRIMARY KEY,
    user_low   text NOT NULL,
    user_high  text NOT NULL,
    last_seq   bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_low, user_high)
  );
  CREATE TABLE ref_chat.messages (
    id                bigserial PRIMARY KEY,
    conversation_id   bigint NOT NULL REFERENCES ref_chat.conversations (id),
    seq               bigint NOT NULL,
    sender_id         text NOT NULL,
    client_message_id text NOT NULL,
    content           text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (conversation_id, seq),
    UNIQUE (conversation_id, sender_id, client_message_id)
  );
`);

const verify = (token) => jwt.verify(token, secret, { algorithms: ["HS256"] });

function messageJson(row) {
  return {
    id: String(row.id),
    conversationId: String(row.conversation_id),
    seq: String(row.seq),
    senderId: row.sender_id,
    clientMessageId: row.client_message_id,
    type: "text",
    content: row.content,
    createdAt: row.created_at.toISOString(),
  };
}

// ---- REST: find-or-create a direct conversation -----------------------------------------------

function sendJson(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function createConversation(req, res) {
  let user;
  try {
    user = verify((req.headers.authorization || "").replace(/^Bearer\s+/i, "")).sub;
  } catch (err) {
    return sendJson(res, 401, { error: { code: "unauthenticated", message: err.message } });
  }
  let body = "";
  for await (const chunk of req) body += chunk;
  let participant;
  try {
    participant = JSON.parse(body).participantId;
  } catch {}
  if (typeof participant !== "string" || !participant || participant === user) {
    return sendJson(res, 422, { error: { code: "invalid_argument", message: "participantId: another user's id" } });
  }
  const [low, high] = user < participant ? [user, participant] : [participant, user];
  const inserted = await pool.query(
    "INSERT INTO ref_chat.conversations (user_low, user_high) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id",
    [low, high],
  );
  const created = inserted.rowCount === 1;
  const id = created
    ? inserted.rows[0].id
    : (await pool.query("SELECT id FROM ref_chat.conversations WHERE user_low = $1 AND user_high = $2", [low, high]))
        .rows[0].id;
  sendJson(res, created ? 201 : 200, { created, conversation: { id: String(id), type: "direct" } });
}

const httpServer = createServer((req, res) => {
  if (req.method === "POST" && req.url === "/api/v1/chat/conversations") {
    createConversation(req, res).catch((err) => sendJson(res, 500, { error: { code: "internal", message: err.message } }));
    return;
  }
  // socket.io answers its own path; everything else is unknown here.
  if (!req.url.startsWith("/socket.io/")) sendJson(res, 404, { error: { code: "not_found", message: "no route" } });
});

// ---- Socket.IO ---------------------------------------------------------------------------------

const io = new Server(httpServer, {
  path: "/socket.io/",
  transports: ["polling", "websocket"],
  perMessageDeflate: false,
  httpCompression: false,
  pingInterval: 25000,
  pingTimeout: 20000,
  maxHttpBufferSize: 1e6,
  serveClient: false,
});

io.use((socket, next) => {
  try {
    socket.data.user = verify(socket.handshake.auth?.token).sub;
    next();
  } catch (err) {
    next(new Error(`unauthenticated: ${err.message}`));
  }
});

const fail = (ack, code, message) => ack({ ok: false, error: { code, message } });

async function sendMessage(user, payload) {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    // The row lock on the conversation orders its messages: seq order = commit order.
    const conv = await client.query(
      "UPDATE ref_chat.conversations SET last_seq = last_seq + 1, updated_at = now() " +
        "WHERE id = $1 AND $2 IN (user_low, user_high) RETURNING last_seq, user_low, user_high",
      [payload.conversationId, user],
    );
    if (conv.rowCount === 0) {
      await client.query("ROLLBACK");
      return { error: ["not_found", "no such conversation"] };
    }
    const { last_seq: seq, user_low: low, user_high: high } = conv.rows[0];
    const inserted = await client.query(
      "INSERT INTO ref_chat.messages (conversation_id, seq, sender_id, client_message_id, content) " +
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (conversation_id, sender_id, client_message_id) DO NOTHING RETURNING *",
      [payload.conversationId, seq, user, payload.clientMessageId, payload.content],
    );
    if (inserted.rowCount === 0) {
      // A retry: the stored message, no new sequence number, nothing emitted.
      await client.query("ROLLBACK");
      const existing = await pool.query(
        "SELECT * FROM ref_chat.messages WHERE conversation_id = $1 AND sender_id = $2 AND client_message_id = $3",
        [payload.conversationId, user, payload.clientMessageId],
      );
      return { row: existing.rows[0], created: false };
    }
    await client.query("COMMIT");
    return { row: inserted.rows[0], created: true, recipient: user === low ? high : low };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

io.on("connection", (socket) => {
  const user = socket.data.user;
  socket.join(`user:${user}`);
  socket.on("message:send", async (payload, ack) => {
    if (typeof ack !== "function") ack = () => {};
    const id = payload && /^[1-9][0-9]{0,17}$/.test(String(payload.conversationId)) ? String(payload.conversationId) : null;
    if (!id || typeof payload.clientMessageId !== "string" || !payload.clientMessageId || typeof payload.content !== "string") {
      return fail(ack, "invalid_argument", "message:send needs {conversationId, clientMessageId, content}");
    }
    try {
      const result = await sendMessage(user, { ...payload, conversationId: id });
      if (result.error) return fail(ack, ...result.error);
      const message = messageJson(result.row);
      if (result.created) io.to([`user:${result.recipient}`, `user:${user}`]).emit("message:new", message);
      ack({ ok: true, data: { ...message, created: result.created } });
    } catch (err) {
      fail(ack, "internal", err.message);
    }
  });
});

httpServer.listen(port, host, () => {
  console.log(`listening on ${httpServer.address().port}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    io.close();
    pool.end().finally(() => process.exit(0));
  });
}
