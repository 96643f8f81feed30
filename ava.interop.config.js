// `npm run test:interop`: websoup against real peers (libsoup 3 through GJS, python3-websockets,
// headless Chromium). See docs/interop.md. The default suite (ava.config.js) excludes these files.
export default {
	files: ['spec/interop/**/*.spec.ts'],
	extensions: {ts: 'module'},
	nodeArguments: ['--import=tsx'],
	timeout: '120s',
	workerThreads: false,
	concurrency: 2,
};
