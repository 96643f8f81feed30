// Type tests for the W3C facade, checked by `tsc --noEmit` in `npm test` and never run: each @ts-expect-error must stay an error.

import type {Blob} from 'node:buffer';
import {CloseEvent, WebSocket, WebSocketStream, type WebSocketMessageEvent} from '../../lib/facades/w3c.ts';

declare const ws: WebSocket;

// addEventListener infers the event from its type.
ws.addEventListener('close', event => {
	const code: number = event.code;
	const clean: boolean = event.wasClean;
	const reason: string = event.reason;
	void [code, clean, reason];
});
ws.addEventListener('message', event => {
	const data: string | ArrayBuffer | Blob = event.data;
	void data;
});
ws.addEventListener('open', function (event) {
	const self: WebSocket = this;
	const plain: Event = event;
	void [self, plain];
});
ws.addEventListener('close', {handleEvent: event => event.code}, {once: true});
ws.addEventListener('custom', event => event.type);
ws.onclose = event => event.code;
ws.onmessage = (event: WebSocketMessageEvent) => event.data;
ws.onopen = null;

// @ts-expect-error an open event has no code
ws.addEventListener('open', event => event.code);
// @ts-expect-error onclose receives a CloseEvent, not a string
ws.onclose = (event: string) => event;
// @ts-expect-error binaryType takes only 'blob' or 'arraybuffer'
ws.binaryType = 'nodebuffer';
// @ts-expect-error readyState is readonly
ws.readyState = 1;
// @ts-expect-error bufferedAmount is readonly
ws.bufferedAmount = 0;
// @ts-expect-error send takes string, ArrayBuffer, ArrayBufferView or Blob
ws.send({});

// The constructor takes protocols or the options object.
void new WebSocket('ws://127.0.0.1:1/', ['chat']);
void new WebSocket('ws://127.0.0.1:1/', {protocols: 'chat', headers: {'X-A': '1'}, maxIncomingPayloadSize: 0, tls: {rejectUnauthorized: true}});
// @ts-expect-error a misspelt option
void new WebSocket('ws://127.0.0.1:1/', {protocol: 'chat'});
// @ts-expect-error a limit is a number
void new WebSocket('ws://127.0.0.1:1/', {maxTotalMessageSize: '1 MiB'});

const constant: 3 = WebSocket.CLOSED;
const event = new CloseEvent('close', {code: 1000});
void [constant, event];

declare const stream: WebSocketStream;
void stream.opened.then(({readable, writable}) => {
	const reader: ReadableStreamDefaultReader<string | Uint8Array> = readable.getReader();
	void writable.getWriter().write('text');
	void reader;
});
// @ts-expect-error closeCode is a number
stream.close({closeCode: '1000'});
