// Interop peer: libsoup 3 through GJS. Run as `gjs -m soup-peer.js server|client ...`.
//
// The line protocol (shared with websockets-peer.py; see spec/interop/peer.ts):
//   stdout, one JSON object a line: {"event":"ready","port":N} (server), {"event":"open","protocol",...},
//     {"event":"message","type":"text"|"binary","size":N,"sha256":hex,"text"?:string} (then the echo
//     is sent back), {"event":"pong",...}, {"event":"closing"}, {"event":"error","message":...},
//     {"event":"closed","code":N,"reason":string|null}, {"event":"versions",...}, {"event":"fatal",...}.
//   stdin, one JSON object a line: {"cmd":"keepalive","seconds":N}, {"cmd":"close","code":N,"reason":S},
//     {"cmd":"exit"}. EOF on stdin ends the peer.
//
// Arguments:
//   server <origin> <protocol,...> [deflate|plain]        listen on 127.0.0.1, port 0, handler at /ws
//   client <url> <origin> <protocol,...> [deflate|plain]  connect once
//
// Limits: max-incoming-payload-size is raised from libsoup's 128 KiB to 4 MiB (1 MiB messages are sent).
// permessage-deflate: SoupServer accepts it by default, `plain` removes it; a Session offers it only
// when a Soup.WebsocketExtensionManager is added, which `deflate` does (the default is `plain`).

import GLib from 'gi://GLib';
import GObject from 'gi://GObject';
import Gio from 'gi://Gio';
import Soup from 'gi://Soup?version=3.0';
import System from 'system';

const MAX_PAYLOAD = 4 * 1024 * 1024;
const decoder = new TextDecoder('utf-8', {fatal: true});
const loop = new GLib.MainLoop(null, false);
let exitCode = 0;
let connection = null;

function emit(event) {
	print(JSON.stringify(event));
}

function quit(code) {
	exitCode = code;
	loop.quit();
}

function errorText(error) {
	return error && error.message ? error.message : String(error);
}

function splitList(text) {
	return text === '' || text === '-' ? null : text.split(',');
}

function setUp(conn, extra) {
	connection = conn;
	conn.max_incoming_payload_size = MAX_PAYLOAD;
	conn.connect('message', (self, type, bytes) => {
		const data = bytes.toArray();
		const event = {
			event: 'message',
			type: type === Soup.WebsocketDataType.TEXT ? 'text' : 'binary',
			size: data.length,
			sha256: GLib.compute_checksum_for_bytes(GLib.ChecksumType.SHA256, bytes),
		};
		if (type === Soup.WebsocketDataType.TEXT) {
			try {
				event.text = decoder.decode(data);
			} catch (error) {
				event.textError = errorText(error);
			}
		}

		emit(event);
		// Echo the very bytes received, with the same type.
		self.send_message(type, bytes);
	});
	conn.connect('pong', () => {
		// libsoup 3.2 passes a GByteArray where the signal says GBytes (LIBSOUP.md §0.6): don't touch it.
		emit({event: 'pong'});
		self_stopKeepalive(conn);
	});
	conn.connect('closing', () => emit({event: 'closing'}));
	conn.connect('error', (_self, error) => emit({event: 'error', message: errorText(error), code: error.code ?? null}));
	conn.connect('closed', self => {
		emit({event: 'closed', code: self.get_close_code(), reason: self.get_close_data()});
		connection = null;
		if (mode === 'client') {
			quit(0);
		}
	});
	emit({
		event: 'open',
		protocol: conn.get_protocol(),
		origin: conn.get_origin(),
		uri: conn.get_uri().to_string(),
		extensions: conn.get_extensions().map(extension =>
			extension instanceof Soup.WebsocketExtensionDeflate ? 'permessage-deflate' : GObject.type_name(extension.constructor.$gtype)),
		...extra,
	});
}

function self_stopKeepalive(conn) {
	if (conn.keepalive_interval !== 0) {
		conn.keepalive_interval = 0;
	}
}

function handle(command) {
	switch (command.cmd) {
		case 'keepalive':
			if (connection) connection.keepalive_interval = command.seconds;
			break;
		case 'close':
			if (connection) connection.close(command.code, command.reason ?? null);
			break;
		case 'exit':
			quit(0);
			break;
		default:
			emit({event: 'fatal', message: `unknown command ${JSON.stringify(command)}`});
	}
}

function readCommands() {
	const stdin = new Gio.DataInputStream({base_stream: new Gio.UnixInputStream({fd: 0, close_fd: false})});
	const next = () => {
		stdin.read_line_async(GLib.PRIORITY_DEFAULT, null, (stream, result) => {
			let line;
			try {
				[line] = stream.read_line_finish_utf8(result);
			} catch (error) {
				emit({event: 'fatal', message: errorText(error)});
				quit(1);
				return;
			}

			if (line === null) {
				quit(0);
				return;
			}

			if (line.trim() !== '') {
				try {
					handle(JSON.parse(line));
				} catch (error) {
					emit({event: 'fatal', message: errorText(error)});
				}
			}

			next();
		});
	};
	next();
}

const [mode, ...rest] = ARGV;
emit({event: 'versions', soup: `${Soup.get_major_version()}.${Soup.get_minor_version()}.${Soup.get_micro_version()}`, gjs: System.version});

if (mode === 'server') {
	const [origin, protocols, extensions = 'plain'] = rest;
	const server = new Soup.Server({});
	if (extensions !== 'deflate') {
		server.remove_websocket_extension(Soup.WebsocketExtensionDeflate.$gtype);
	}

	server.add_websocket_handler('/ws', origin === '-' ? null : origin, splitList(protocols ?? ''), (_server, msg, path, conn) => {
		setUp(conn, {
			path,
			requestProtocols: msg.get_request_headers().get_one('Sec-WebSocket-Protocol'),
			requestExtensions: msg.get_request_headers().get_one('Sec-WebSocket-Extensions'),
		});
	});
	server.listen_local(0, Soup.ServerListenOptions.IPV4_ONLY);
	const uri = server.get_uris()[0];
	emit({event: 'ready', port: uri.get_port()});
} else if (mode === 'client') {
	const [url, origin, protocols, extensions = 'plain'] = rest;
	const session = new Soup.Session();
	if (extensions === 'deflate') {
		session.add_feature_by_type(Soup.WebsocketExtensionManager.$gtype);
	}

	const msg = Soup.Message.new('GET', url);
	session.websocket_connect_async(msg, origin === '-' ? null : origin, splitList(protocols ?? ''), GLib.PRIORITY_DEFAULT, null, (self, result) => {
		try {
			setUp(self.websocket_connect_finish(result), {
				status: msg.get_status(),
				responseExtensions: msg.get_response_headers().get_one('Sec-WebSocket-Extensions'),
			});
		} catch (error) {
			emit({event: 'error', message: errorText(error), code: error.code ?? null, status: msg.get_status()});
			quit(1);
		}
	});
} else {
	emit({event: 'fatal', message: `usage: soup-peer.js server|client ...; got ${JSON.stringify(ARGV)}`});
	System.exit(2);
}

readCommands();
loop.run();
System.exit(exitCode);
