// Node.js `net` TCP echo server for bench/tcp: writes back every chunk it
// reads. Usage: node echo.js PORT
'use strict';
const net = require('net');
const port = Number(process.argv[2] || 7000);
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('data', (chunk) => socket.write(chunk));
  socket.on('error', () => socket.destroy());
});
server.listen({ host: '127.0.0.1', port, backlog: 128 }, () => {
  console.log(`listening on ${server.address().port}`);
});
