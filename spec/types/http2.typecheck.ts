// Type-level checks of the HTTP/2 glue: the server type flows into the callback; the http2 option is typed. Checked by tsc, not run.

import http2 from 'node:http2';
import {addWebsocketHandler, websocketConnect, type WebsocketHttp2Option} from '../../lib/index.ts';

const secure = http2.createSecureServer({settings: {enableConnectProtocol: true}});
addWebsocketHandler(secure, '/ws', null, null, (server, msg, _path, connection) => {
	// The callback's server is the HTTP/2 server given.
	const same: http2.Http2SecureServer = server;
	const version: '1.0' | '1.1' | '2' = msg.httpVersion;
	const protocol: string | null = msg.connectProtocol;
	connection.sendText(`${String(same)} ${version} ${String(protocol)}`);
});

const options: WebsocketHttp2Option[] = [true, false, 'auto', http2.connect('http://127.0.0.1:1')];
void options;
void websocketConnect('ws://127.0.0.1:1/', null, null, {http2: 'auto'});
// @ts-expect-error: only 'auto' among strings
void websocketConnect('ws://127.0.0.1:1/', null, null, {http2: 'h2'});
// @ts-expect-error: a server session is not a client session
void websocketConnect('ws://127.0.0.1:1/', null, null, {http2: {} as http2.ServerHttp2Session});
