import test from 'ava';
import {OutgoingQueue, QueueFlags} from '../../lib/websocket/outgoing-queue.ts';

const frame = (text: string): Buffer[] => [Buffer.from(text)];
const drain = (queue: OutgoingQueue): string[] => {
	const out: string[] = [];
	for (let frame = queue.shiftReady(); frame !== undefined; frame = queue.shiftReady()) {
		out.push(frame.buffers![0]!.toString());
	}

	return out;
};

test('NORMAL frames keep their order; URGENT ones go before every frame not yet started', t => {
	const queue = new OutgoingQueue();
	queue.push(frame('a'), 1, QueueFlags.NORMAL);
	queue.push(frame('b'), 1, QueueFlags.NORMAL);
	queue.push(frame('pong1'), 5, QueueFlags.URGENT);
	queue.push(frame('pong2'), 5, QueueFlags.URGENT);
	queue.push(frame('c'), 1, QueueFlags.NORMAL);
	t.is(queue.length, 5);
	t.is(queue.bytes, 13);
	t.deepEqual(drain(queue), ['pong1', 'pong2', 'a', 'b', 'c']);
	t.is(queue.bytes, 0);
});

test('a frame an extension still holds blocks the queue, and URGENT frames do not overtake it', t => {
	const queue = new OutgoingQueue();
	const pending = queue.push(null, 100, QueueFlags.NORMAL);
	queue.push(frame('after'), 5, QueueFlags.NORMAL);
	queue.push(frame('pong'), 4, QueueFlags.URGENT);
	t.is(queue.shiftReady(), undefined);
	queue.fill(pending, [Buffer.alloc(10)]);
	t.is(queue.bytes, 19, 'the filled frame counts its real size');
	t.is(queue.shiftReady()!.size, 10);
	t.deepEqual(drain(queue), ['pong', 'after']);
});

test('remove and clear drop frames and their bytes', t => {
	const queue = new OutgoingQueue();
	const first = queue.push(frame('a'), 1, QueueFlags.NORMAL);
	queue.push(frame('b'), 1, QueueFlags.LAST);
	queue.remove(first);
	queue.remove(first);
	t.is(queue.bytes, 1);
	t.is(queue.shiftReady()!.flags, QueueFlags.LAST);
	queue.push(frame('c'), 1, QueueFlags.NORMAL);
	queue.clear();
	t.is(queue.length, 0);
	t.is(queue.bytes, 0);
});
