// Type tests for WebsocketHub, checked by `tsc --noEmit` in `npm test` and never run: each @ts-expect-error must stay an error.

import {WebsocketHub, type BackpressurePolicy} from '../../lib/topics/hub.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {WebsocketDataType} from '../../lib/websocket/constants.ts';

declare const hub: WebsocketHub;
declare const connection: WebsocketConnection;

hub.connect('dropped', (self, subscriber, topic, type, data) => {
	const h: WebsocketHub = self;
	const c: WebsocketConnection = subscriber;
	const name: string = topic;
	const kind: WebsocketDataType = type;
	const bytes: Buffer = data;
	void [h, c, name, kind, bytes];
});
hub.connect('broker-error', (_self, error) => {
	const e: Error = error;
	void e;
});
hub.connect('notify::backpressure-policy', () => {});

// @ts-expect-error a misspelt signal name
hub.connect('droped', () => {});
// @ts-expect-error a misspelt property in a detailed notify
hub.connect('notify::max-back-pressure', () => {});
// @ts-expect-error a handler whose parameter has the wrong type
hub.connect('dropped', (_self, _connection: string) => {});

const policy: BackpressurePolicy = hub.getProperty('backpressure-policy');
const max: number = hub.getProperty('max-backpressure');
void [policy, max];
hub.setProperty('backpressure-policy', 'close');
// @ts-expect-error not a policy
hub.setProperty('backpressure-policy', 'queue');
// @ts-expect-error not a number
hub.setProperty('max-backpressure', '1 MiB');
// @ts-expect-error an unknown property at construction
void new WebsocketHub({maxBackPressure: 1});

const count: number = hub.publish('topic', WebsocketDataType.TEXT, Buffer.from('x'), {except: connection});
hub.publish('topic', WebsocketDataType.BINARY, new Uint8Array(1), {except: [connection]});
void count;
// @ts-expect-error the type is a WebsocketDataType
hub.publish('topic', 'text', Buffer.from('x'));
// @ts-expect-error except takes connections
hub.publishText('topic', 'x', {except: 'me'});
