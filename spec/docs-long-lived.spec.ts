// docs/long-lived.md's complete example is the type-checked spec/types/long-lived-example.typecheck.ts, word for word.

import {readFileSync} from 'node:fs';
import test from 'ava';

test('docs/long-lived.md: the example service is the one npm run typecheck checks', t => {
	const checked = readFileSync(new URL('types/long-lived-example.typecheck.ts', import.meta.url), 'utf8')
		.split('// --- example ---\n')[1]!
		.replace("from '../../lib/index.ts'", "from 'websoup'");
	const doc = readFileSync(new URL('../docs/long-lived.md', import.meta.url), 'utf8');
	t.true(doc.includes(`\`\`\`ts\n${checked}\`\`\``));
});
