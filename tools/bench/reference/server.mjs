// Reference Socket.IO server for tools/bench: npm socket.io 4.8 with the same settings and handlers
// as tools/bench/sb_bench_server.cc, so both are measured doing the same work.
//
//   node server.mjs [--port N] [--host 127.0.0.1]      (port 0 picks a free one)
//
// Prints "listening on PORT" once it accepts connections. Handlers:
//   "join"      (room, ack)   -> socket.join(room); ack()
//   "broadcast" ({room, ...}) -> io.to(room).emit("bcast", payload)   (payload forwarded unchanged)
import { createServer } from "node:http";
import { Server } from "socket.io";

function flag(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const port = Number(flag("--port", "0"));
const host = flag("--host", "127.0.0.1");

const httpServer = createServer();
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

io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    if (typeof room === "string") socket.join(room);
    if (typeof ack === "function") ack();
  });
  socket.on("broadcast", (payload) => {
    if (payload && typeof payload.room === "string") io.to(payload.room).emit("bcast", payload);
  });
});

httpServer.listen(port, host, () => {
  console.log(`listening on ${httpServer.address().port}`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    io.close();
    process.exit(0);
  });
}
