// The comparison peer of webchat_load.py: an echo server on Node's `ws` (the npm package pinned in
// tests/e2e/package.json), with ws's defaults except permessage-deflate off (omniroute's default).
//   node ws_echo_server.mjs <dir holding node_modules/ws>
// Prints "PORT <n>" once listening on 127.0.0.1.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.argv[2], "package.json"));
const { WebSocketServer } = require("ws");

const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
});
wss.on("listening", () => process.stdout.write(`PORT ${wss.address().port}\n`));
