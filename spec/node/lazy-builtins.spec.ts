// What an HTTP/1.1 user pays for at import: websoup's HTTP/2 and TLS glue load node:http2,
// node:tls and node:https on first use, not with the package. Each of them is code in the old
// generation of every process that imports websoup; a small server whose old generation crosses
// V8's incremental-marking activation threshold (8 MB) runs its 16 KiB and 1 MiB echoes under
// mark-compacts started by external memory (docs/performance.md), and the HTTP/2 glue alone had
// pushed a bare websoup server across it.
// Each case runs in a child process of its own (a fresh module graph), over real loopback sockets.

import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import test from 'ava';
import {root} from '../helpers/cli.ts';

const run = promisify(execFile);

/** The builtins a user who needs neither HTTP/2 nor TLS should not have loaded. */
const LAZY = ['http2', 'tls', 'https'];

/**
 * Runs `body` (an ES module's text, top-level await allowed) in a fresh `node --import tsx`
 * child and returns which of {@link LAZY} were loaded when it finished.
 */
async function loadedAfter(body: string): Promise<string[]> {
	const script = `${body}
const wanted = new Set(${JSON.stringify(LAZY.map(name => `NativeModule ${name}`))});
process.stdout.write(JSON.stringify(process.moduleLoadList.filter(entry => wanted.has(entry)).map(entry => entry.slice(13))));
`;
	const {stdout} = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {cwd: root, timeout: 60_000});
	return JSON.parse(stdout) as string[];
}

/**
 * Script text: a client connects to the listening `server`'s `/echo` (`connectArgs` after the URL),
 * sends `text`, waits for its echo (at most 30 s), and closes.
 */
function echoOnce(connectArgs: string, text: string): string {
	return `const client = await websocketConnect(\`ws://127.0.0.1:\${server.address().port}/echo\`${connectArgs});
const echoed = await new Promise((resolve, reject) => {
	const timer = setTimeout(() => reject(new Error('no echo within 30 s')), 30_000);
	client.connect('message', (_self, _type, data) => {
		clearTimeout(timer);
		resolve(data.toString());
	});
	client.sendText(${JSON.stringify(text)});
});
if (echoed !== ${JSON.stringify(text)}) {
	throw new Error(\`echoed \${echoed}\`);
}
client.close(1000, null);
await client.closed;`;
}

test('importing websoup loads neither node:http2 nor node:tls nor node:https', async t => {
	t.deepEqual(await loadedAfter(`await import('./lib/index.ts');`), []);
});

test('an HTTP/1.1 server and a ws:// client exchange a message without loading node:http2, node:tls or node:https', async t => {
	const loaded = await loadedAfter(`
import http from 'node:http';
import {addWebsocketHandler, websocketConnect} from './lib/index.ts';
const server = http.createServer();
addWebsocketHandler(server, '/echo', null, null, (_server, _msg, _path, connection) => {
	connection.connect('message', (self, type, data) => self.sendMessage(type, data));
});
await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
${echoOnce('', 'hello')}
server.closeAllConnections();
await new Promise(resolve => server.close(resolve));
`);
	t.deepEqual(loaded, []);
});

test('the first HTTP/2 use loads node:http2 (the lazy path still works)', async t => {
	const loaded = await loadedAfter(`
import http2 from 'node:http2';
import {addWebsocketHandler, websocketConnect} from './lib/index.ts';
const server = http2.createServer({settings: {enableConnectProtocol: true}});
addWebsocketHandler(server, '/echo', null, null, (_server, _msg, _path, connection) => {
	connection.connect('message', (self, type, data) => self.sendMessage(type, data));
});
await new Promise(resolve => server.listen(0, '127.0.0.1', resolve));
${echoOnce(', null, null, {http2: true}', 'over h2')}
await new Promise(resolve => server.close(resolve));
`);
	t.true(loaded.includes('http2'));
});
