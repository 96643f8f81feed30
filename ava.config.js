export default {
	files: ['spec/**/*.spec.ts', '!spec/interop/**', '!spec/memory/**', '!spec/package/**'],
	extensions: {ts: 'module'},
	nodeArguments: ['--import=tsx'],
	timeout: '60s',
	workerThreads: false,
};
