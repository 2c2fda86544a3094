// Node.js `ws` WebSocket echo server over TLS (`wss`) for bench/ws: echo.js
// behind `https.createServer({ cert, key })` (Node's bundled OpenSSL, its
// defaults). Usage: node echo_tls.js PORT CERT_FILE KEY_FILE   (PEM files;
// needs `npm install` in bench/ws)
'use strict';
const fs = require('fs');
const https = require('https');
const { WebSocketServer } = require('ws');
const port = Number(process.argv[2] || 7000);
const server = https.createServer({ cert: fs.readFileSync(process.argv[3]), key: fs.readFileSync(process.argv[4]) });
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});
server.listen(port, '127.0.0.1', () => {
  console.log(`listening on ${server.address().port} (wss)`);
});
