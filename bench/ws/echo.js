// Node.js `ws` WebSocket echo server for bench/ws: sends every message back
// (text as text). Usage: node echo.js PORT   (needs `npm install` in bench/ws)
'use strict';
const { WebSocketServer } = require('ws');
const port = Number(process.argv[2] || 7000);
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false }, () => {
  console.log(`listening on ${wss.address().port}`);
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', () => ws.terminate());
});
