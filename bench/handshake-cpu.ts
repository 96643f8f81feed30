// CPU per handshake with the server and its clients in one process on one core: what another
// process's load changes least, for comparing two builds or libraries run one after the other.
//   node --import tsx bench/handshake-cpu.ts [websoup|ws|socket] [windows]
// Each handshake is the load generator's: connect, request, 101, a masked Close, the server's Close
// and FIN, close; 16 at a time, over loopback, on the hardened http.Server of docs/node.md with the
// handler a user would write (as bench/server.ts). After 2 s of warm-up it prints the µs of CPU per
// handshake of each 1.5 s window: the clients' share (node:net, the same for every library) is
// in every figure, so compare differences, and against `socket` (the bare upgrade, no library).
// Pin it to one core for steadier figures: `taskset -c 0 node --import tsx bench/handshake-cpu.ts`.

import net, {type AddressInfo} from 'node:net';
import {setTimeout as sleep} from 'node:timers/promises';
import {serveBareUpgrades} from './bare-upgrade.ts';
import {hardenedServer, serveWebsoupEcho, serveWsEcho} from './echo-servers.ts';
import {buildLibrary, type Library} from './settings.ts';

const impl = process.argv[2] ?? 'websoup';
const windows = Number(process.argv[3] ?? 4);
const server = hardenedServer();
if (impl === 'websoup') {
	// The compiled build, as users run it (bench/settings.ts).
	serveWebsoupEcho(server, (await import(buildLibrary())) as Library);
} else if (impl === 'ws') {
	await serveWsEcho(server, false);
} else if (impl === 'socket') {
	// The floor: the bare upgraded socket (bench/bare-upgrade.ts).
	serveBareUpgrades(server);
} else {
	throw new TypeError(`Expected websoup, ws or socket, got ${impl}`);
}

server.listen(0, '127.0.0.1');
await new Promise(resolve => server.once('listening', resolve));
const {port} = server.address() as AddressInfo;
const request = `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
const maskedClose = Buffer.from([0x88, 0x82, 0x12, 0x34, 0x56, 0x78, 0x03 ^ 0x12, 0xe8 ^ 0x34]);
let done = 0;
let failed = 0;
let stopped = false;

/** One handshake after another, until stopped. */
function client(): void {
	if (stopped) {
		return;
	}

	const socket = net.connect(port, '127.0.0.1');
	let head = '';
	socket.setEncoding('latin1');
	socket.on('connect', () => socket.write(request));
	socket.on('data', (text: string) => {
		if (head.endsWith('\r\n\r\n')) {
			return;
		}

		head += text;
		if (head.includes('\r\n\r\n')) {
			if (head.startsWith('HTTP/1.1 101')) {
				socket.write(maskedClose);
			} else {
				failed++;
				socket.destroy();
			}
		}
	});
	socket.on('end', () => socket.end());
	socket.on('error', () => {
		failed++;
	});
	socket.on('close', () => {
		done++;
		client();
	});
}

for (let i = 0; i < 16; i++) {
	client();
}

await sleep(2000);
const figures: string[] = [];
for (let window = 0; window < windows; window++) {
	const count = done;
	const cpu = process.cpuUsage();
	// eslint-disable-next-line no-await-in-loop -- one window after the other
	await sleep(1500);
	const used = process.cpuUsage(cpu);
	figures.push(((used.user + used.system) / (done - count)).toFixed(1));
}

stopped = true;
console.log(`handshake-cpu ${impl}: ${figures.join(' ')} µs CPU per handshake (server and clients), failed ${failed}`);
process.exit(0);
