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

test('coalescePong: below the bound each Pong is queued; at it the last queued Pong takes the newer payload, until it is written', t => {
	const queue = new OutgoingQueue();
	const pong = QueueFlags.URGENT | QueueFlags.PONG;
	t.false(queue.coalescePong(frame('p1'), 2));
	queue.push(frame('p1'), 2, pong);
	t.false(queue.coalescePong(frame('p2'), 2));
	queue.push(frame('p2'), 2, pong);
	t.true(queue.coalescePong(frame('p3'), 2));
	t.is(queue.length, 2);
	t.is(queue.shiftReady()!.buffers![0]!.toString(), 'p1');
	t.false(queue.coalescePong(frame('p4'), 2), 'one Pong waits now: below the bound again');
	queue.push(frame('p4'), 2, pong);
	t.deepEqual(drain(queue), ['p3', 'p4']);
	t.false(queue.coalescePong(frame('p5'), 0), 'nothing to coalesce with once none waits');
});
