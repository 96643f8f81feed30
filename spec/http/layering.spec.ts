// The layers without Node's HTTP: lib/http and lib/websocket import no node:http, and node:net or node:tls for types only.

import {readdirSync, readFileSync} from 'node:fs';
import test from 'ava';

/** The sources of a directory under lib/, with those of its subdirectories. */
function sources(directory: string): Array<{file: string; source: string}> {
	const root = new URL(`../../lib/${directory}/`, import.meta.url);
	const entries = readdirSync(root, {recursive: true, encoding: 'utf8'}).filter(file => file.endsWith('.ts'));
	return entries.map(file => ({file: `lib/${directory}/${file}`, source: readFileSync(new URL(file, root), 'utf8')}));
}

test('lib/http and lib/websocket know nothing of Node\'s HTTP nor of sockets: no node:http import, node:net and node:tls for types only', t => {
	const files = [...sources('http'), ...sources('websocket')];
	t.true(files.some(({file}) => file === 'lib/http/message.ts'));
	t.true(files.some(({file}) => file === 'lib/websocket/handshake.ts'));
	for (const {file, source} of files) {
		const imports = source.match(/^import\s[^;]*;/gm) ?? [];
		for (const line of imports) {
			t.notRegex(line, /['"]node:https?['"]/, `${file} imports Node's HTTP: ${line}`);
			if (/['"]node:(?:net|tls)['"]/.test(line)) {
				t.regex(line, /^import type /, `${file} imports a socket module at run time: ${line}`);
			}
		}
	}
});
