// Extensions the specs use to put frames behind asynchronous work.

import {WebsocketExtension, type FrameInfo} from '../../lib/websocket/extensions/extension.ts';

/** Passes frames through one immediate later, but fails the outgoing message "fail". */
export class FailingExtension extends WebsocketExtension {
	static override readonly extensionName = 'x-failing';

	override async processOutgoing(_frame: FrameInfo, payload: Buffer): Promise<Buffer> {
		await new Promise(resolve => {
			setImmediate(resolve);
		});
		if (payload.toString() === 'fail') {
			throw new Error('cannot process');
		}

		return payload;
	}
}
