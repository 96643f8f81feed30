// Type tests, checked by `tsc --noEmit` in `npm test` and never run: each @ts-expect-error must stay an error.

import type {ParamSpec} from '../../lib/gobject/index.ts';
import type {WebsocketConnection} from '../../lib/websocket/connection.ts';
import {WebsocketState} from '../../lib/websocket/constants.ts';
import {Color, Widget} from '../helpers/widget.ts';

declare const widget: Widget;
declare const connection: WebsocketConnection;

// Handler parameters are inferred: the emitter first, then the signal's arguments.
widget.connect('message', (self, type, data) => {
	const w: Widget = self;
	const n: number = type;
	const bytes: Uint8Array = data;
	void w;
	void n;
	void bytes;
});
widget.connect('notify::keepalive-interval', (_self, pspec) => {
	const spec: ParamSpec<unknown, boolean> = pspec;
	void spec;
});
widget.connect('notify', () => {});
widget.connectAfter('closing', self => self.fire('plain'));

// @ts-expect-error a misspelt signal name
widget.connect('mesage', () => {});
// @ts-expect-error a misspelt property in a detailed notify
widget.connect('notify::keepalive-intervall', () => {});
// @ts-expect-error notify details use the dashed spelling
widget.connect('notify::keepaliveInterval', () => {});
// @ts-expect-error a handler whose parameter has the wrong type
widget.connect('message', (_self, _type: string) => {});
// @ts-expect-error a handler wanting more arguments than the signal has
widget.connect('closing', (_self, _extra: number) => {});

// emit arguments are checked (Widget.fire has emit's signature; emit itself is protected).
widget.fire('message', 1, new Uint8Array());
widget.fire('closing');
// @ts-expect-error missing argument
widget.fire('message', 1);
// @ts-expect-error wrong argument type
widget.fire('cleanup', 'x');
// @ts-expect-error too many arguments
widget.fire('closing', 1);
// @ts-expect-error unknown signal
widget.fire('nope');
// @ts-expect-error emit is protected: code outside the class cannot fake a signal
widget.emit('closing');
// @ts-expect-error nor a connection's `closed`
connection.emit('closed');
// @ts-expect-error stopEmission checks the name too
widget.stopEmission('clossing');

// Properties: names in either spelling, value types checked, read-only ones not settable.
const interval: number = widget.getProperty('keepalive-interval');
const same: number = widget.getProperty('keepaliveInterval');
const label: string | null = widget.getProperty('label');
const color: Color = widget.getProperty('color');
void interval;
void same;
void label;
void color;
widget.setProperty('level', 3);
widget.setProperty('maxSize', 3);
widget.setProperty('target', new URL('ws://127.0.0.1/'));
// @ts-expect-error a misspelt property name
widget.getProperty('keepalive-intervall');
// @ts-expect-error a value of the wrong type
widget.setProperty('level', '3');
// @ts-expect-error a read-only property
widget.setProperty('state', Color.RED);
// @ts-expect-error enum values are checked
widget.setProperty('color', 9);
// @ts-expect-error null only where the property is nullable
widget.setProperty('level', null);
widget.notify('level');
// @ts-expect-error notify names a property
widget.notify('levle');

// Construction takes writable properties in either spelling.
void new Widget({'keepalive-interval': 5, maxSize: 10, label: null});
// @ts-expect-error unknown property
void new Widget({bogus: 1});
// @ts-expect-error read-only property
void new Widget({state: Color.RED});
// @ts-expect-error wrong type
void new Widget({keepaliveInterval: '5'});

// camelCase accessors, typed from the property table (declaration merging), not hand-written.
const viaAccessor: number = widget.keepaliveInterval;
const maxSize: number = widget.maxSize;
const target: URL | null = widget.target;
const tags: readonly string[] = widget.tags;
const widgetState: Color = widget.state;
void [viaAccessor, maxSize, target, tags, widgetState];
widget.level = 3;
widget.maxSize = 10;
// @ts-expect-error a value of the wrong type
widget.level = '3';
// @ts-expect-error null only where the property is nullable
widget.ratio = null;
// @ts-expect-error a read-only property's accessor is readonly
widget.state = Color.RED;
// @ts-expect-error a misspelt accessor
void widget.keepaliveIntervall;
const connectionState: WebsocketState = connection.state;
const closeTimeout: number = connection.closeTimeout;
const uri: URL | null = connection.uri;
void [connectionState, closeTimeout, uri];
connection.keepaliveInterval = 30;
// @ts-expect-error state is read-only
connection.state = WebsocketState.CLOSED;
// @ts-expect-error keepalive-interval is a number
connection.keepaliveInterval = '30';
