// Tests for lib/http/headers.ts: MessageHeaders (libsoup's SoupMessageHeaders) and the header-list helpers.

import test from 'ava';
import {MessageHeaders, asciiEqualsIgnoreCase, splitHeaderList} from '../../lib/http/headers.ts';
import {prng} from '../helpers/random.ts';

test('headers: names are case-insensitive and keep the spelling they were given', t => {
	const headers = new MessageHeaders();
	headers.append('Sec-WebSocket-Key', 'abc');
	t.is(headers.getOne('sec-websocket-key'), 'abc');
	t.is(headers.getOne('SEC-WEBSOCKET-KEY'), 'abc');
	t.true(headers.has('sec-WebSocket-KEY'));
	t.deepEqual([...headers], [['Sec-WebSocket-Key', 'abc']]);
});

test('headers: repeated names keep every value in insertion order', t => {
	const headers = new MessageHeaders([
		['Accept', 'a'],
		['Host', 'example.com'],
		['accept', 'b'],
	]);
	t.is(headers.size, 3);
	t.is(headers.getList('Accept'), 'a, b');
	t.deepEqual([...headers], [
		['Accept', 'a'],
		['Host', 'example.com'],
		['accept', 'b'],
	]);
	const seen: string[] = [];
	headers.forEach((name, value) => seen.push(`${name}=${value}`));
	t.deepEqual(seen, ['Accept=a', 'Host=example.com', 'accept=b']);
});

test('headers: getOne joins a duplicated header like getList, so single-valued checks fail', t => {
	const headers = new MessageHeaders([
		['Sec-WebSocket-Version', '13'],
		['Sec-WebSocket-Version', '13'],
	]);
	t.is(headers.getOne('Sec-WebSocket-Version'), '13, 13');
	t.false(headers.headerEquals('Sec-WebSocket-Version', '13'));
});

test('headers: getOne and getList return null for an absent header, "" for an empty one', t => {
	const headers = new MessageHeaders([['X-Empty', '']]);
	t.is(headers.getOne('X-Missing'), null);
	t.is(headers.getList('X-Missing'), null);
	t.is(headers.getOne('X-Empty'), '');
});

test('headers: replace removes every copy and appends one at the end', t => {
	const headers = new MessageHeaders([
		['Upgrade', 'h2c'],
		['Host', 'a'],
		['upgrade', 'foo'],
	]);
	headers.replace('UPGRADE', 'websocket');
	t.deepEqual([...headers], [
		['Host', 'a'],
		['UPGRADE', 'websocket'],
	]);
});

test('headers: remove and clear', t => {
	const headers = new MessageHeaders([
		['A', '1'],
		['B', '2'],
		['a', '3'],
	]);
	headers.remove('a');
	t.deepEqual([...headers], [['B', '2']]);
	headers.remove('missing');
	t.is(headers.size, 1);
	headers.clear();
	t.is(headers.size, 0);
	t.false(headers.has('B'));
});

test('headers: headerContains finds a token in a comma list, case-insensitively', t => {
	const headers = new MessageHeaders([
		['Connection', 'keep-alive, Upgrade'],
		['X-List', 'a, "b, upgrade", c'],
	]);
	t.true(headers.headerContains('Connection', 'upgrade'));
	t.true(headers.headerContains('connection', 'KEEP-ALIVE'));
	t.false(headers.headerContains('Connection', 'close'));
	t.false(headers.headerContains('Connection', 'keep'));
	t.false(headers.headerContains('Missing', 'upgrade'));
	// A comma inside a quoted string does not separate elements.
	t.false(headers.headerContains('X-List', 'upgrade'));
	t.true(headers.headerContains('X-List', '"b, upgrade"'));
});

test('headers: headerContains reads repeated headers as one list', t => {
	const headers = new MessageHeaders([
		['Connection', 'keep-alive'],
		['Connection', 'Upgrade'],
	]);
	t.true(headers.headerContains('Connection', 'upgrade'));
});

test('headers: headerContains and headerContainsCaseSensitive find exactly the elements splitHeaderList gives (quotes, escapes, OWS, empty elements; 5,000 random lists)', t => {
	// headerContains compares the elements where they stand: it must agree with the list splitHeaderList makes.
	const random = prng(0x5eed);
	const alphabet = ['a', 'A', 'b', ',', ',', ' ', '\t', '"', '\\', 'up', 'UP'];
	let found = 0;
	for (let round = 0; round < 5000; round++) {
		let value = '';
		for (let length = Math.floor(random() * 12); length > 0; length--) {
			value += alphabet[Math.floor(random() * alphabet.length)];
		}

		const headers = new MessageHeaders([['X-List', value]]);
		const elements = splitHeaderList(value);
		const tokens = [...elements, '', 'a', 'A', 'up', 'a b', '"a"', value, value.trim()];
		for (const token of tokens) {
			const insensitive = elements.some(element => asciiEqualsIgnoreCase(element, token));
			const sensitive = elements.includes(token);
			t.is(headers.headerContains('X-List', token), insensitive, `${JSON.stringify(value)} contains ${JSON.stringify(token)}`);
			t.is(headers.headerContainsCaseSensitive('X-List', token), sensitive, `${JSON.stringify(value)} contains exactly ${JSON.stringify(token)}`);
			found += insensitive ? 1 : 0;
		}
	}

	// The lists are not all empty: most rounds find something.
	t.true(found > 2500);
});

test('headers: headerContainsCaseSensitive compares exactly', t => {
	const headers = new MessageHeaders([['Sec-WebSocket-Protocol', 'chat, Superchat']]);
	t.true(headers.headerContainsCaseSensitive('Sec-WebSocket-Protocol', 'chat'));
	t.true(headers.headerContainsCaseSensitive('Sec-WebSocket-Protocol', 'Superchat'));
	t.false(headers.headerContainsCaseSensitive('Sec-WebSocket-Protocol', 'Chat'));
	t.false(headers.headerContainsCaseSensitive('Sec-WebSocket-Protocol', ''));
});

test('headers: headerEquals compares the whole value, ASCII case-insensitively', t => {
	const headers = new MessageHeaders([
		['Upgrade', 'WebSocket'],
		['X-Latin', 'ä'],
	]);
	t.true(headers.headerEquals('Upgrade', 'websocket'));
	t.false(headers.headerEquals('Upgrade', 'websocket2'));
	t.false(headers.headerEquals('Missing', 'websocket'));
	// Like g_ascii_strcasecmp: no case folding outside ASCII.
	t.false(headers.headerEquals('X-Latin', 'Ä'));
});

test('headers: toObject groups repeated names for Node, without a prototype', t => {
	const headers = new MessageHeaders([
		['Set-Cookie', 'a=1'],
		['Host', 'example.com'],
		['set-cookie', 'b=2'],
		['__proto__', 'x'],
	]);
	const object = headers.toObject();
	t.is(Object.getPrototypeOf(object), null);
	t.deepEqual(Object.keys(object), ['Set-Cookie', 'Host', '__proto__']);
	t.deepEqual(object['Set-Cookie'], ['a=1', 'b=2']);
	t.is(object['Host'], 'example.com');
	t.is(object['__proto__'], 'x');
});

for (const [title, name, value, argument] of [
	['CRLF in a value', 'X-Test', 'a\r\nInjected: yes', 'value'],
	['LF in a value', 'X-Test', 'a\nInjected: yes', 'value'],
	['CR in a value', 'X-Test', 'a\rb', 'value'],
	['NUL in a value', 'X-Test', 'a\0b', 'value'],
	['DEL in a value', 'X-Test', 'a\u007fb', 'value'],
	['a character above U+00FF in a value', 'X-Test', 'snow ☃', 'value'],
	['a space in a name', 'X Test', 'a', 'name'],
	['a colon in a name', 'X-Test:', 'a', 'name'],
	['CRLF in a name', 'X-Test\r\nInjected', 'a', 'name'],
	['an empty name', '', 'a', 'name'],
] as const) {
	test(`headers: header injection is rejected: ${title}`, t => {
		const headers = new MessageHeaders([['Host', 'example.com']]);
		for (const method of ['append', 'replace'] as const) {
			const error = t.throws(() => {
				headers[method](name, value);
			}, {instanceOf: TypeError});
			t.regex(error.message, new RegExp(`\`${argument}\``));
		}

		t.deepEqual([...headers], [['Host', 'example.com']]);
	});
}

test('headers: tabs and Latin-1 characters are valid in values', t => {
	const headers = new MessageHeaders();
	headers.append('X-Test', 'a\tb é');
	t.is(headers.getOne('x-test'), 'a\tb é');
});

test('headers: non-string arguments are rejected with a TypeError naming them', t => {
	const headers = new MessageHeaders();
	t.throws(() => {
		headers.append('X-Test', 5 as unknown as string);
	}, {instanceOf: TypeError, message: /`value`/});
	t.throws(() => headers.getOne(undefined as unknown as string), {instanceOf: TypeError, message: /`name`/});
});

test('splitHeaderList: trims elements, skips empty ones, respects quoted strings', t => {
	t.deepEqual(splitHeaderList(' a ,b,, ,\tc '), ['a', 'b', 'c']);
	t.deepEqual(splitHeaderList(''), []);
	t.deepEqual(splitHeaderList(' , '), []);
	t.deepEqual(splitHeaderList('a; x="1,2", b'), ['a; x="1,2"', 'b']);
	t.deepEqual(splitHeaderList('a; x="q\\"uo,te", b'), ['a; x="q\\"uo,te"', 'b']);
	t.deepEqual(splitHeaderList('a; b=1;; c', ';'), ['a', 'b=1', 'c']);
});
