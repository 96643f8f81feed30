// What the fuzz suite found, minimized, kept as fixed inputs: each runs through the same checks as a fuzz case.
//
// The peer writes the hex, then ends (FIN) at once ('end') or after the connection's Close
// ('wait'). A "client" connection receives unmasked frames, a "server" one masked frames (key
// 01020304 throughout).

import test from 'ava';
import type {Chunking, Ending, FuzzCase, Role} from './generate.ts';
import {glueCase, glueOpener} from './glue.ts';
import {runConnectionCase, withTraps} from './harness.ts';

/** "Hello" compressed as RFC 7692 §7.2.3.1 sends it (sync flush, trailer removed), and with a final block (§7.2.3.4). */
const HELLO = '48656c6c6f';
const HELLO_SYNC = 'f248cdc9c90700';
const HELLO_FINAL = 'f348cdc9c90700';

interface Fixture {
	role: Role;
	hex: string;
	deflate?: boolean;
	echo?: boolean;
	ending?: Ending;
	chunking?: Chunking;
	maxTotalMessageSize?: number;
	/** Through addWebsocketHandler()/websocketConnect(), the frames in the handshake's first write. */
	glue?: boolean;
}

function fixture(f: Fixture): FuzzCase {
	return {
		seed: 0,
		index: 0,
		role: f.role,
		deflate: f.deflate ?? false,
		maxIncomingPayloadSize: 131_072,
		maxTotalMessageSize: f.maxTotalMessageSize ?? 0,
		maxIncomingFragments: 4096,
		echo: f.echo ?? false,
		ending: f.ending ?? 'end',
		transport: 'memory',
		chunking: f.chunking ?? {kind: 'whole'},
		frames: null,
		plaintexts: new Map([
			[HELLO_SYNC, Buffer.from(HELLO, 'hex')],
			[HELLO_FINAL, Buffer.from(HELLO, 'hex')],
		]),
		bytes: Buffer.from(f.hex, 'hex'),
		mutation: null,
	};
}

const findings: Array<[string, Fixture]> = [
	[
		'a frame over max-incoming-payload-size is answered with a Close 1009 (issue 9 item 6)',
		{role: 'client', hex: '827f0000000000100000'}, // BINARY, 64-bit length 1 MiB
	],
	[
		'after a failure, a later oversized frame does not swallow the Close already due (F1)',
		{role: 'client', hex: '8101ff827f0000000000100000'}, // TEXT "\xff" (invalid UTF-8); BINARY header, 1 MiB
	],
	[
		'a failure Close queued behind a compressed echo is still written after the peer\'s FIN (F2)',
		{role: 'client', deflate: true, echo: true, maxTotalMessageSize: 65_536, hex: `c107${HELLO_SYNC}8300`}, // TEXT+RSV1 "Hello"; reserved opcode 3
	],
	[
		'a Close followed by FIN is answered even with a compressed echo pending (F2b)',
		{role: 'client', deflate: true, echo: true, maxTotalMessageSize: 65_536, hex: `c107${HELLO_SYNC}880203e8`}, // TEXT+RSV1 "Hello"; CLOSE 1000
	],
	[
		'a message ending with a final DEFLATE block leaves the inflater usable (issue 9 item 3)',
		{role: 'client', deflate: true, ending: 'wait', hex: `c107${HELLO_FINAL}c107${HELLO_SYNC}8800`}, // "Hello" with BFINAL; "Hello"; CLOSE
	],
	[
		'a fragmented compressed text read byte by byte is inflated, not UTF-8-checked raw (F4)',
		{
			role: 'server',
			deflate: true,
			ending: 'wait',
			chunking: {kind: 'bytes'},
			// TEXT+RSV1 no FIN "f248cd"; CONTINUATION+FIN "c9c90700"; CLOSE 1000 — all masked with 01020304.
			hex: '418301020304f34ace808401020304c8cb040488820102030402ea',
		},
	],
	[
		'websocketConnect(): a failure Close queued behind a compressed echo is written after the server\'s FIN (F7)',
		{role: 'client', glue: true, deflate: true, echo: true, maxTotalMessageSize: 65_536, hex: `c107${HELLO_SYNC}8300`}, // as F2, behind a 101
	],
	[
		'websocketConnect(): a Close followed by FIN is answered even with a compressed echo pending (F7)',
		{role: 'client', glue: true, deflate: true, echo: true, maxTotalMessageSize: 65_536, hex: `c107${HELLO_SYNC}880203e8`}, // as F2b, behind a 101
	],
	[
		'invalid UTF-8 in a partial text frame fails the connection while an earlier frame inflates (F5)',
		{
			role: 'server',
			deflate: true,
			// TEXT+RSV1 "Hello" (masked); TEXT header of 179 bytes and its first 4 bytes "2f672fbb" (masked), then FIN.
			hex: 'c18701020304f34acecdc8050381fe00b3010203042e652cbf',
		},
	],
];

for (const [title, f] of findings) {
	test.serial(title, async t => {
		const c = f.glue === true ? glueCase(fixture(f)) : fixture(f);
		const result = await withTraps(async () => runConnectionCase(c, f.glue === true ? {open: glueOpener(c)} : {}));
		t.deepEqual(result.violations, [], `outcome: ${result.outcome}`);
	});
}
