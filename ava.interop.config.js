// `npm run test:interop`: websoup against real peers (libsoup 3 through GJS, python3-websockets,
// headless Chromium). See docs/interop.md. The default suite (ava.config.js) excludes these files,
// and runs the other specs of spec/interop/ (against ws and undici, installed by npm).
export default {
	files: [
		'spec/interop/chat-workers.spec.ts',
		'spec/interop/chromium.spec.ts',
		'spec/interop/demo-page.spec.ts',
		'spec/interop/libsoup.spec.ts',
		'spec/interop/python-websockets.spec.ts',
	],
	extensions: {ts: 'module'},
	nodeArguments: ['--import=tsx'],
	timeout: '120s',
	workerThreads: false,
	concurrency: 2,
};
