// Tests for lib/websocket/extensions/manager.ts: Sec-WebSocket-Extensions grammar and negotiation.

import test, {type ExecutionContext} from 'ava';
import {WebsocketConnectionType} from '../../lib/websocket/constants.ts';
import {WebsocketError, WebsocketErrorCode, type WebsocketErrorReason} from '../../lib/websocket/errors.ts';
import {WebsocketExtension, type ExtensionParams} from '../../lib/websocket/extensions/extension.ts';
import {
	ExtensionSyntaxError,
	formatAcceptedExtensions,
	formatExtensionOffer,
	negotiateClientExtensions,
	negotiateServerExtensions,
	parseExtensions,
} from '../../lib/websocket/extensions/manager.ts';
import {
	clientPrepareHandshake,
	clientVerifyHandshake,
	serverCheckHandshake,
	serverProcessHandshake,
} from '../../lib/websocket/handshake.ts';
import {Message} from '../../lib/http/message.ts';

function invalidParameter(name: string): WebsocketError {
	return new WebsocketError(
		WebsocketErrorCode.BAD_HANDSHAKE,
		'WS_ERR_INVALID_EXTENSION_HEADER',
		`Invalid parameter '${name}' in x-test extension header`,
	);
}

function invalidValue(name: string): WebsocketError {
	return new WebsocketError(
		WebsocketErrorCode.BAD_HANDSHAKE,
		'WS_ERR_INVALID_EXTENSION_HEADER',
		`Invalid value of parameter '${name}' in x-test extension header`,
	);
}

/**
 * A small extension in the manner of permessage-deflate: `level=N` (1–9, value required) and
 * `no_context` (no value), anything else refused. It offers `; level=5` and answers with what it
 * was configured with.
 */
class TestExtension extends WebsocketExtension {
	static override readonly extensionName: string = 'x-test';
	static instances = 0;
	level = 1;
	noContext = false;
	connectionType: WebsocketConnectionType | null = null;
	params: ExtensionParams | null = null;

	constructor() {
		super();
		TestExtension.instances++;
	}

	override configure(connectionType: WebsocketConnectionType, params: ExtensionParams | null): void {
		this.connectionType = connectionType;
		this.params = params;
		for (const [name, value] of params ?? []) {
			switch (name) {
				case 'level': {
					if (value === null || !/^[1-9]$/.test(value)) {
						throw invalidValue(name);
					}

					this.level = Number(value);
					break;
				}

				case 'no_context': {
					if (value !== null) {
						throw invalidValue(name);
					}

					this.noContext = true;
					break;
				}

				default: {
					throw invalidParameter(name);
				}
			}
		}
	}

	override getRequestParams(): string | null {
		return '; level=5';
	}

	override getResponseParams(): string | null {
		return `; level=${this.level}${this.noContext ? '; no_context' : ''}`;
	}
}

/** A second extension with no parameters at all. */
class OtherExtension extends WebsocketExtension {
	static override readonly extensionName: string = 'x-other';
	connectionType: WebsocketConnectionType | null = null;

	override configure(connectionType: WebsocketConnectionType, params: ExtensionParams | null): void {
		this.connectionType = connectionType;
		if (params !== null) {
			throw new WebsocketError(WebsocketErrorCode.BAD_HANDSHAKE, 'WS_ERR_INVALID_EXTENSION_HEADER', 'x-other takes no parameters');
		}
	}
}

function assertError(
	t: ExecutionContext,
	error: unknown,
	expected: {code?: number; reason: WebsocketErrorReason; message: string},
): void {
	t.true(error instanceof WebsocketError);
	if (error instanceof WebsocketError) {
		t.is(error.code, expected.code ?? WebsocketErrorCode.BAD_HANDSHAKE);
		t.is(error.reason, expected.reason);
		t.is(error.message, expected.message);
	}
}

// Grammar

test('parseExtensions: names, parameters with and without values, in order', t => {
	const offers = parseExtensions('permessage-deflate; client_max_window_bits, x-test; level=5; no_context, x-other');
	t.deepEqual(
		offers.map(offer => [offer.name, offer.params === null ? null : [...offer.params]]),
		[
			['permessage-deflate', [['client_max_window_bits', null]]],
			['x-test', [
				['level', '5'],
				['no_context', null],
			]],
			['x-other', null],
		],
	);
});

test('parseExtensions: quoted values are unescaped (RFC 6455 §9.1, RFC 7230 §3.2.6)', t => {
	const [offer] = parseExtensions('x-test; level="5"; a="\\t\\o\\k"; b = "x" ');
	t.deepEqual([...(offer?.params ?? [])], [
		['level', '5'],
		['a', 'tok'],
		['b', 'x'],
	]);
});

test('parseExtensions: commas and semicolons inside quotes do not split', t => {
	const error = t.throws(() => parseExtensions('x-test; a="1,2"; b="3;4", x-other'), {instanceOf: ExtensionSyntaxError});
	// The value was kept whole, then refused: "1,2" is not a token once unquoted.
	t.is(error.problem, 'malformed-params');
	t.is(error.extension, 'x-test');
});

test('parseExtensions: empty list elements and empty parameters are ignored (RFC 7230 §7)', t => {
	const offers = parseExtensions(' , x-test;; level=2 ;, ,x-other,');
	t.deepEqual(offers.map(offer => offer.name), ['x-test', 'x-other']);
	t.deepEqual([...(offers[0]?.params ?? [])], [['level', '2']]);
	t.deepEqual(parseExtensions(''), []);
	t.deepEqual(parseExtensions(' ,, '), []);
});

test('parseExtensions: an element without a name is an error', t => {
	const error = t.throws(() => parseExtensions('x-test, ; level=1'), {instanceOf: ExtensionSyntaxError});
	t.is(error.problem, 'empty-name');
});

test('parseExtensions: a duplicated parameter is an error, compared case-insensitively', t => {
	for (const value of ['x-test; level=1; level=2', 'x-test; no_context; no_context', 'x-test; level=1; LEVEL=1']) {
		const error = t.throws(() => parseExtensions(value), {instanceOf: ExtensionSyntaxError});
		t.is(error.problem, 'duplicate-param');
		t.is(error.extension, 'x-test');
	}
});

for (const [title, value] of [
	['an unterminated quoted string', 'x-test; level="5'],
	['a quoted value that is not a token', 'x-test; level="5 6"'],
	['an empty quoted value', 'x-test; level=""'],
	['an empty value', 'x-test; level='],
	['a value with a space', 'x-test; level=5 6'],
	['a parameter without a name', 'x-test; =5'],
	['a parameter name that is not a token', 'x-test; le vel=5'],
	['a quoted parameter name', 'x-test; "level"=5'],
	['a quote in the middle of a value', 'x-test; level=5"6"'],
	['a trailing backslash inside quotes', 'x-test; level="5\\"'],
] as const) {
	test(`parseExtensions: ${title} is malformed`, t => {
		const error = t.throws(() => parseExtensions(value), {instanceOf: ExtensionSyntaxError});
		t.is(error.problem, 'malformed-params');
	});
}

test('formatExtensionOffer and formatAcceptedExtensions', t => {
	t.is(formatExtensionOffer([]), null);
	t.is(formatExtensionOffer([TestExtension, OtherExtension]), 'x-test; level=5, x-other');
	const test1 = new TestExtension();
	test1.configure(WebsocketConnectionType.SERVER, new Map([['level', '7']]));
	t.is(formatAcceptedExtensions([test1, new OtherExtension()]), 'x-test; level=7, x-other');
	t.is(formatAcceptedExtensions([]), null);
});

// Server side

test('server: supported extensions are configured for the server, in request order', t => {
	const accepted = negotiateServerExtensions('x-other, x-test; level=3; no_context', [TestExtension, OtherExtension], true);
	t.is(accepted.length, 2);
	const [other, ext] = accepted;
	t.true(other instanceof OtherExtension);
	t.true(ext instanceof TestExtension);
	if (ext instanceof TestExtension && other instanceof OtherExtension) {
		t.is(ext.connectionType, WebsocketConnectionType.SERVER);
		t.is(ext.level, 3);
		t.true(ext.noContext);
		t.is(other.connectionType, WebsocketConnectionType.SERVER);
	}
});

test('server: an unknown extension is skipped, even with malformed parameters', t => {
	const accepted = negotiateServerExtensions('x-unknown; a=1; a=2; b="unterminated, x-test', [TestExtension], true);
	// The quote runs to the end, so x-test is part of the unknown element.
	t.deepEqual(accepted, []);
	const accepted2 = negotiateServerExtensions('x-unknown; a=1; a=2; b="x y", permessage-deflate, x-test', [TestExtension], true);
	t.is(accepted2.length, 1);
	t.true(accepted2[0] instanceof TestExtension);
});

test('server: extension names are case-sensitive', t => {
	t.deepEqual(negotiateServerExtensions('X-Test', [TestExtension], true), []);
});

test('server: with no supported extensions every offer is ignored, even a malformed one', t => {
	t.deepEqual(negotiateServerExtensions('; x, x-test; a=1; a=1', null, true), []);
	t.deepEqual(negotiateServerExtensions('; x', [], true), []);
	t.deepEqual(negotiateServerExtensions('; x', undefined, true), []);
});

test('server: an element without a name fails', t => {
	const error = t.throws(() => negotiateServerExtensions('x-test, ;level=1', [TestExtension], true));
	assertError(t, error, {
		reason: 'WS_ERR_INVALID_EXTENSION_HEADER',
		message: 'Incorrect WebSocket “Sec-WebSocket-Extensions” header',
	});
});

test('server: a duplicated parameter fails with libsoup\'s server message', t => {
	const error = t.throws(() => negotiateServerExtensions('x-test; level=1; level=2', [TestExtension], true));
	assertError(t, error, {
		reason: 'WS_ERR_INVALID_EXTENSION_HEADER',
		message: 'Duplicated parameter in “x-test” WebSocket extension header',
	});
});

test('server: malformed parameters of a supported extension fail', t => {
	const error = t.throws(() => negotiateServerExtensions('x-test; level="5 6"', [TestExtension], true));
	assertError(t, error, {
		reason: 'WS_ERR_INVALID_EXTENSION_HEADER',
		message: 'Incorrect WebSocket “Sec-WebSocket-Extensions” header',
	});
});

test('server: the extension\'s configure() error is propagated', t => {
	assertError(t, t.throws(() => negotiateServerExtensions('x-test; bogus', [TestExtension], true)), {
		reason: 'WS_ERR_INVALID_EXTENSION_HEADER',
		message: "Invalid parameter 'bogus' in x-test extension header",
	});
	assertError(t, t.throws(() => negotiateServerExtensions('x-test; level=10', [TestExtension], true)), {
		reason: 'WS_ERR_INVALID_EXTENSION_HEADER',
		message: "Invalid value of parameter 'level' in x-test extension header",
	});
	assertError(t, t.throws(() => negotiateServerExtensions('x-test; level', [TestExtension], true)), {
		reason: 'WS_ERR_INVALID_EXTENSION_HEADER',
		message: "Invalid value of parameter 'level' in x-test extension header",
	});
});

test('server: a configure() that throws something else becomes a BAD_HANDSHAKE error', t => {
	class Buggy extends WebsocketExtension {
		static override readonly extensionName: string = 'x-buggy';
		override configure(): void {
			throw new RangeError('oops');
		}
	}

	const error = t.throws(() => negotiateServerExtensions('x-buggy', [Buggy], true));
	assertError(t, error, {
		reason: 'WS_ERR_INVALID_EXTENSION_HEADER',
		message: 'Failed to configure “x-buggy” WebSocket extension: oops',
	});
	t.true((error as Error).cause instanceof RangeError);
});

test('server: a repeated offer is an alternative; the first is accepted, the rest skipped', t => {
	const accepted = negotiateServerExtensions('x-test; level=2, x-test; level=3; bogus', [TestExtension], true);
	t.is(accepted.length, 1);
	t.is((accepted[0] as TestExtension).level, 2);
});

test('server: check only, an element without parameters is accepted without creating the extension', t => {
	TestExtension.instances = 0;
	t.deepEqual(negotiateServerExtensions('x-test', [TestExtension], false), []);
	t.is(TestExtension.instances, 0);
	// With parameters, the extension is created to validate them, then dropped.
	t.deepEqual(negotiateServerExtensions('x-test; level=4', [TestExtension], false), []);
	t.is(TestExtension.instances, 1);
	t.throws(() => negotiateServerExtensions('x-test; level=0', [TestExtension], false), {instanceOf: WebsocketError});
});

// Client side

test('client: accepted extensions are configured for the client, in response order', t => {
	const accepted = negotiateClientExtensions(
		'x-other, x-test; level=9',
		'x-test; level=5, x-other',
		[TestExtension, OtherExtension],
	);
	t.is(accepted.length, 2);
	t.true(accepted[0] instanceof OtherExtension);
	const ext = accepted[1];
	t.true(ext instanceof TestExtension);
	if (ext instanceof TestExtension) {
		t.is(ext.connectionType, WebsocketConnectionType.CLIENT);
		t.is(ext.level, 9);
	}
});

test('client: an empty or blank response header accepts nothing', t => {
	t.deepEqual(negotiateClientExtensions('', null, null), []);
	t.deepEqual(negotiateClientExtensions(' , ', 'x-test', [TestExtension]), []);
});

interface ClientCase {
	title: string;
	response: string;
	request: string | null;
	supported: Array<typeof TestExtension | typeof OtherExtension> | null;
	reason: WebsocketErrorReason;
	message: string;
}

const clientCases: ClientCase[] = [
	{
		title: 'any extension when the client supports none',
		response: 'x-test',
		request: 'x-test',
		supported: null,
		reason: 'WS_ERR_UNSUPPORTED_EXTENSION',
		message: 'Server requested unsupported extension',
	},
	{
		title: 'any extension when the client supports an empty list',
		response: 'x-test',
		request: 'x-test',
		supported: [],
		reason: 'WS_ERR_UNSUPPORTED_EXTENSION',
		message: 'Server requested unsupported extension',
	},
	{
		title: 'an element without a name',
		response: '; level=5',
		request: 'x-test',
		supported: [TestExtension],
		reason: 'WS_ERR_INVALID_EXTENSION_HEADER',
		message: 'Server returned incorrect “Sec-WebSocket-Extensions” key',
	},
	{
		title: 'an extension the request did not offer',
		response: 'x-other',
		request: 'x-test; level=5',
		supported: [TestExtension, OtherExtension],
		reason: 'WS_ERR_UNSUPPORTED_EXTENSION',
		message: 'Server requested unsupported extension',
	},
	{
		title: 'an extension when the request offered none',
		response: 'x-test',
		request: null,
		supported: [TestExtension],
		reason: 'WS_ERR_UNSUPPORTED_EXTENSION',
		message: 'Server requested unsupported extension',
	},
	{
		title: 'an extension offered but not supported (unknown: rejected, not skipped)',
		response: 'x-unknown',
		request: 'x-test, x-unknown',
		supported: [TestExtension],
		reason: 'WS_ERR_UNSUPPORTED_EXTENSION',
		message: 'Server requested unsupported extension',
	},
	{
		title: 'the same extension twice',
		response: 'x-test, x-test',
		request: 'x-test',
		supported: [TestExtension],
		reason: 'WS_ERR_UNSUPPORTED_EXTENSION',
		message: 'Server requested unsupported extension',
	},
	{
		title: 'a duplicated parameter',
		response: 'x-test; level=5; Level=5',
		request: 'x-test',
		supported: [TestExtension],
		reason: 'WS_ERR_INVALID_EXTENSION_HEADER',
		message: 'Server returned a duplicated parameter in “x-test” WebSocket extension header',
	},
	{
		title: 'a malformed parameter',
		response: 'x-test; level="5',
		request: 'x-test',
		supported: [TestExtension],
		reason: 'WS_ERR_INVALID_EXTENSION_HEADER',
		message: 'Server returned incorrect “Sec-WebSocket-Extensions” key',
	},
	{
		title: 'a parameter configure() refuses',
		response: 'x-test; window=3',
		request: 'x-test',
		supported: [TestExtension],
		reason: 'WS_ERR_INVALID_EXTENSION_HEADER',
		message: "Invalid parameter 'window' in x-test extension header",
	},
	{
		title: 'order: the first bad element wins',
		response: 'x-test; level=0, x-unknown',
		request: 'x-test',
		supported: [TestExtension],
		reason: 'WS_ERR_INVALID_EXTENSION_HEADER',
		message: "Invalid value of parameter 'level' in x-test extension header",
	},
];

for (const row of clientCases) {
	test(`client: rejects ${row.title}`, t => {
		assertError(t, t.throws(() => negotiateClientExtensions(row.response, row.request, row.supported)), row);
	});

	test(`clientVerifyHandshake: rejects ${row.title}`, t => {
		const msg = new Message('ws://example.com/');
		clientPrepareHandshake(msg, null, null, row.supported);
		if (row.request === null) {
			msg.requestHeaders.remove('Sec-WebSocket-Extensions');
		} else {
			msg.requestHeaders.replace('Sec-WebSocket-Extensions', row.request);
		}

		const server = new Message('ws://example.com/');
		for (const [name, value] of msg.requestHeaders) {
			server.requestHeaders.append(name, value);
		}

		serverProcessHandshake(server, null, null);
		msg.setStatus(101);
		for (const [name, value] of server.responseHeaders) {
			msg.responseHeaders.append(name, value);
		}

		msg.responseHeaders.append('Sec-WebSocket-Extensions', row.response);
		assertError(t, t.throws(() => clientVerifyHandshake(msg, row.supported)), row);
	});
}

// Whole handshakes

function roundTrip(
	clientSupported: Array<typeof TestExtension | typeof OtherExtension> | null,
	serverSupported: Array<typeof TestExtension | typeof OtherExtension> | null,
	adjustOffer?: (msg: Message) => void,
): {server: WebsocketExtension[]; client: WebsocketExtension[]; request: string | null; response: string | null} {
	const msg = new Message('ws://example.com/');
	clientPrepareHandshake(msg, null, null, clientSupported);
	adjustOffer?.(msg);
	const server = new Message('ws://example.com/');
	for (const [name, value] of msg.requestHeaders) {
		server.requestHeaders.append(name, value);
	}

	serverCheckHandshake(server, null, null, serverSupported);
	const result = serverProcessHandshake(server, null, null, serverSupported);
	if (!result.accepted) {
		throw result.error;
	}

	msg.setStatus(server.statusCode);
	for (const [name, value] of server.responseHeaders) {
		msg.responseHeaders.append(name, value);
	}

	return {
		server: result.extensions,
		client: clientVerifyHandshake(msg, clientSupported),
		request: msg.requestHeaders.getOne('Sec-WebSocket-Extensions'),
		response: msg.responseHeaders.getOne('Sec-WebSocket-Extensions'),
	};
}

test('round trip: both ends agree on the extensions and their parameters', t => {
	const {server, client, request, response} = roundTrip([TestExtension, OtherExtension], [OtherExtension, TestExtension]);
	t.is(request, 'x-test; level=5, x-other');
	t.is(response, 'x-test; level=5, x-other');
	t.deepEqual(server.map(extension => extension.name), ['x-test', 'x-other']);
	t.deepEqual(client.map(extension => extension.name), ['x-test', 'x-other']);
	t.is((server[0] as TestExtension).connectionType, WebsocketConnectionType.SERVER);
	t.is((client[0] as TestExtension).connectionType, WebsocketConnectionType.CLIENT);
	t.is((client[0] as TestExtension).level, 5);
});

test('round trip: the server answers only what it supports', t => {
	const {server, client, response} = roundTrip([TestExtension, OtherExtension], [OtherExtension]);
	t.is(response, 'x-other');
	t.deepEqual(server.map(extension => extension.name), ['x-other']);
	t.deepEqual(client.map(extension => extension.name), ['x-other']);
});

test('round trip: a server without extensions ignores the offer', t => {
	const {server, client, response} = roundTrip([TestExtension], null);
	t.is(response, null);
	t.deepEqual(server, []);
	t.deepEqual(client, []);
});

test('round trip: a client without extensions sends no header', t => {
	const {request, response, client} = roundTrip(null, [TestExtension]);
	t.is(request, null);
	t.is(response, null);
	t.deepEqual(client, []);
});

test('clientPrepareHandshake: removes a stale Sec-WebSocket-Extensions when nothing is offered', t => {
	const msg = new Message('ws://example.com/');
	msg.requestHeaders.append('Sec-WebSocket-Extensions', 'x-stale');
	clientPrepareHandshake(msg, null, null, []);
	t.false(msg.requestHeaders.has('Sec-WebSocket-Extensions'));
	clientPrepareHandshake(msg, null, null, [TestExtension]);
	t.is(msg.requestHeaders.getOne('Sec-WebSocket-Extensions'), 'x-test; level=5');
});

test('serverProcessHandshake: an extension error gives 400 with the extension\'s message', t => {
	const msg = new Message('ws://example.com/');
	clientPrepareHandshake(msg, null, null);
	msg.requestHeaders.append('Sec-WebSocket-Extensions', 'x-test; no_context=1');
	const result = serverProcessHandshake(msg, null, null, [TestExtension]);
	t.false(result.accepted);
	t.is(msg.statusCode, 400);
	t.is(
		msg.responseBody?.toString(),
		"<html><head><title>400 Bad Request</title></head>\r\n<body>Received invalid WebSocket request: Invalid value of parameter 'no_context' in x-test extension header</body></html>\r\n",
	);
});

test('serverCheckHandshake: extension headers split over several lines are one list', t => {
	const msg = new Message('ws://example.com/');
	clientPrepareHandshake(msg, null, null);
	msg.requestHeaders.append('Sec-WebSocket-Extensions', 'x-test; level=2');
	msg.requestHeaders.append('Sec-WebSocket-Extensions', 'x-other');
	const result = serverProcessHandshake(msg, null, null, [TestExtension, OtherExtension]);
	t.true(result.accepted);
	t.is(msg.responseHeaders.getOne('Sec-WebSocket-Extensions'), 'x-test; level=2, x-other');
});
