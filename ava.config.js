export default {
	// spec/interop/ holds every interop spec: those against npm peers (ws, undici) run here; those
	// against Debian's peers run in ava.interop.config.js.
	files: [
		'spec/**/*.spec.ts',
		'!spec/interop/chat-workers.spec.ts',
		'!spec/interop/chromium.spec.ts',
		'!spec/interop/demo-page.spec.ts',
		'!spec/interop/libsoup.spec.ts',
		'!spec/interop/python-websockets.spec.ts',
		'!spec/memory/**',
		'!spec/package/**',
		'!spec/cluster/**',
	],
	extensions: {ts: 'module'},
	nodeArguments: ['--import=tsx'],
	timeout: '60s',
	workerThreads: false,
};
