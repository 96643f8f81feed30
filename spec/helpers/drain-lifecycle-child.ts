// Run as a child process by spec/node/timers.spec.ts: connections closed along every path of the
// close timer (the close handshake, the drain after it, terminate() or a reset during the drain,
// the stream closed while an extension holds the reader), each with an hour's close timeout, then
// no process.exit(). The process must end by itself; it prints what each connection reported and
// the resources still active at the end.

import {once} from 'node:events';
import {connect, createServer, type AddressInfo, type Socket} from 'node:net';
import {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {WebsocketConnectionType} from '../../lib/websocket/constants.ts';
import {WebsocketExtension, type FrameInfo} from '../../lib/websocket/extensions/extension.ts';
import {encodeFrame, generateMaskKey} from '../../lib/websocket/frame.ts';

const HOUR = 3_600_000;
const server = createServer();
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const {port} = server.address() as AddressInfo;

/** A TCP pair on loopback: `ours` for a WebsocketConnection, `raw` for the peer that sends exact bytes. */
async function tcpPair(): Promise<{ours: Socket; raw: Socket}> {
	const accepted = once(server, 'connection') as Promise<[Socket]>;
	const raw = connect(port, '127.0.0.1');
	const [[ours]] = await Promise.all([accepted, once(raw, 'connect')]);
	raw.on('error', () => {});
	return {ours, raw};
}

/** Resolves once `raw` has received a Close frame (its first byte, 0x88: nothing else is sent to it); `raw` reads on. */
async function closeFrameOn(raw: Socket): Promise<void> {
	await new Promise<void>(resolve => {
		const onData = (chunk: Buffer): void => {
			if (chunk.includes(0x88)) {
				raw.off('data', onData);
				raw.resume();
				resolve();
			}
		};

		raw.on('data', onData);
	});
}

const maskedClose = (): Buffer => Buffer.concat(encodeFrame(0x8, Buffer.from([0x03, 0xe8]), {maskKey: generateMaskKey()}));
const plainClose = (): Buffer => Buffer.concat(encodeFrame(0x8, Buffer.from([0x03, 0xe8]), {}));

/** Holds every incoming frame until released. */
class HoldingExtension extends WebsocketExtension {
	static override readonly extensionName = 'x-holding';
	held = 0;
	release: () => void = () => {};
	override get reservedBits(): number {
		return 0x40;
	}

	override async processIncoming(frame: FrameInfo, payload: Buffer): Promise<Buffer> {
		this.held++;
		await new Promise<void>(resolve => {
			this.release = resolve;
		});
		frame.rsv &= ~0x40;
		return payload;
	}
}

function connection(stream: Socket, type: WebsocketConnectionType, extensions: WebsocketExtension[] = []): WebsocketConnection {
	const made = new WebsocketConnection({ioStream: stream, uri: new URL('ws://127.0.0.1/'), connectionType: type, closeTimeout: HOUR, extensions});
	made.connect('error', () => {});
	return made;
}

async function until(condition: () => boolean): Promise<void> {
	for (let i = 0; i < 10_000 && !condition(); i++) {
		await new Promise(resolve => {
			setImmediate(resolve);
		});
	}
}

const report: {
	terminateInDrain?: number;
	resetInDrain?: number;
	lateClose?: boolean;
	clientEcho?: boolean;
	clientLateClose?: boolean;
	closePending?: string[];
	terminateBeforeReads?: number;
} = {};

// Server: the peer's Close echoed, then terminate() during the drain (the peer sends no FIN).
{
	const {ours, raw} = await tcpPair();
	const conn = connection(ours, WebsocketConnectionType.SERVER);
	raw.write(maskedClose());
	await closeFrameOn(raw);
	conn.terminate();
	report.terminateInDrain = (await conn.closed).code;
	raw.destroy();
}

// Server: the peer's Close echoed, then the peer resets the connection during the drain.
{
	const {ours, raw} = await tcpPair();
	const conn = connection(ours, WebsocketConnectionType.SERVER);
	raw.write(maskedClose());
	await closeFrameOn(raw);
	raw.resetAndDestroy();
	report.resetInDrain = (await conn.closed).code;
}

// Server: close(), the peer's Close comes later, then the peer's FIN after ours.
{
	const {ours, raw} = await tcpPair();
	const conn = connection(ours, WebsocketConnectionType.SERVER);
	conn.close(1000);
	await closeFrameOn(raw);
	raw.write(maskedClose());
	raw.once('end', () => raw.end());
	report.lateClose = (await conn.closed).wasClean;
}

// Client: the server's Close echoed, our FIN, then the server's FIN.
{
	const {ours, raw} = await tcpPair();
	const conn = connection(ours, WebsocketConnectionType.CLIENT);
	raw.resume();
	raw.write(plainClose());
	raw.once('end', () => raw.end());
	report.clientEcho = (await conn.closed).wasClean;
}

// Client: close(), the server's Close later, then the FINs.
{
	const {ours, raw} = await tcpPair();
	const conn = connection(ours, WebsocketConnectionType.CLIENT);
	conn.close(1000);
	await closeFrameOn(raw);
	raw.write(plainClose());
	raw.once('end', () => raw.end());
	report.clientLateClose = (await conn.closed).wasClean;
}

// Server: close() arms the close timer; the stream closes while an extension holds a frame
// received before (closePending); the frame is released after.
{
	const {ours, raw} = await tcpPair();
	const holding = new HoldingExtension();
	const conn = connection(ours, WebsocketConnectionType.SERVER, [holding]);
	const messages: string[] = [];
	conn.connect('message', (_self, _type, data) => messages.push(data.toString()));
	conn.close(1000);
	raw.write(Buffer.concat(encodeFrame(0x1, Buffer.from('held'), {rsv: 0x40, maskKey: generateMaskKey()})));
	await until(() => holding.held > 0);
	ours.destroy();
	await once(ours, 'close');
	holding.release();
	await conn.closed;
	report.closePending = messages;
	raw.destroy();
}

// Server: terminate() before the reads started.
{
	const {ours, raw} = await tcpPair();
	const conn = connection(ours, WebsocketConnectionType.SERVER);
	conn.terminate();
	report.terminateBeforeReads = (await conn.closed).code;
	raw.destroy();
}

server.close();
await once(server, 'close');
process.stdout.write(`${JSON.stringify({report, resources: process.getActiveResourcesInfo()})}\n`);
